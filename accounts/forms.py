"""Team, organization and audit-filter forms: they check the shape of the input; the services own the rules."""

from __future__ import annotations

from django import forms

from accounts.models import Organization, Role
from accounts.selectors import PUBLIC_ACTOR


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", widget=forms.TextInput(attrs={"autofocus": True}))
    slug = forms.SlugField(
        max_length=60,
        required=False,
        label="Address",
        help_text=(
            "Used in your portal's and public pages' URLs (letters, digits and hyphens). Leave empty to derive it from the name."
        ),
        error_messages={"invalid": "Use only lowercase letters, digits and hyphens."},
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the organization a name.")
        return name

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip().lower()
        if slug and Organization.objects.filter(slug=slug).exists():
            raise forms.ValidationError("This address is already taken: choose another one.")
        return slug


def role_choices(*, allowed: set[str]) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Role.choices if value in allowed]


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"placeholder": "name@example.com", "autocomplete": "off"})
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, allowed_roles: set[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(allowed=allowed_roles)
        self.fields["role"].error_messages["invalid_choice"] = "You cannot give this role."


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].error_messages["invalid_choice"] = "Choose one of the roles."


class AuditFilterForm(forms.Form):
    """The audit log's filters; invalid values are ignored rather than shown as errors."""

    actor = forms.ChoiceField(required=False, label="Actor")
    action = forms.ChoiceField(required=False, label="Action")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, members, actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [
            ("", "Anyone"),
            *[(str(m.user_id), m.user.display_name) for m in members],
            (PUBLIC_ACTOR, "Public (not logged in)"),
        ]
        self.fields["action"].choices = [("", "All actions"), *[(a, a) for a in actions]]

    def filters(self) -> dict:
        """The valid filters only (an unknown actor or a malformed date is dropped, not an error page)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "actor": data.get("actor") or "",
            "action": data.get("action") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
