"""Portal forms: they check the shape of the input; the services own the rules."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from decimal import Decimal

from django import forms
from django.utils import timezone

from events.models import TIMEZONE_CHOICES, Event, Session, Speaker, TicketType


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock time in the event's time zone (set on the form as ``tz``), stored in UTC."""

    widget = DateTimeLocalInput
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class TimezoneFormMixin:
    """Interpret and show datetime-local fields in a given IANA time zone instead of the server's."""

    tz_field: str | None = "timezone"

    def _tz(self) -> zoneinfo.ZoneInfo:
        name = None
        if self.tz_field and self.data:
            name = self.data.get(self.add_prefix(self.tz_field))
        name = name or getattr(self, "tz_name", None) or "UTC"
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    def localize_initial(self) -> None:
        tz = self._tz()
        for name, field in self.fields.items():
            if isinstance(field, LocalDateTimeField):
                value = self.initial.get(name)
                if isinstance(value, datetime):
                    self.initial[name] = timezone.localtime(value, tz).replace(tzinfo=None)

    def clean(self):
        cleaned = super().clean()
        tz = self._tz()
        for name, field in self.fields.items():
            value = cleaned.get(name)
            if isinstance(field, LocalDateTimeField) and isinstance(value, datetime):
                cleaned[name] = value.replace(tzinfo=None).replace(tzinfo=tz)
        return cleaned


class EventForm(TimezoneFormMixin, forms.ModelForm):
    starts_at = LocalDateTimeField(label="Starts")
    ends_at = LocalDateTimeField(label="Ends")
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES, initial="UTC", label="Time zone")

    class Meta:
        model = Event
        fields = [
            "title",
            "slug",
            "description",
            "starts_at",
            "ends_at",
            "timezone",
            "venue_name",
            "venue_address",
            "online_url",
            "parent",
        ]
        labels = {"slug": "Public address", "venue_name": "Venue", "venue_address": "Venue address", "parent": "Series"}
        help_texts = {"slug": "Used in the public page's URL. Leave empty to derive it from the title."}

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.tz_name = self.instance.timezone  # show the stored times on the event's own clock
        self.fields["slug"].required = False
        qs = Event.objects.for_org(org).filter(parent__isnull=True)
        if self.instance.pk:
            qs = qs.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = qs
        self.fields["parent"].empty_label = "— Not part of a series —"
        self.fields["description"].widget.attrs["rows"] = 4
        self.localize_initial()

    def validate_unique(self):
        """Uniqueness is the service's job (it answers beside the right field)."""

    def _post_clean(self):
        """Skip the model's own validation: the service validates and explains."""

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["parent_id"] = data.pop("parent").pk if data.get("parent") else None
        data["slug"] = data.get("slug") or ""
        return data


class EventCancelForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason",
        help_text="Shown on the public page and sent to attendees.",
    )
    confirm = forms.BooleanField(label="Yes, cancel this event. Registrations stay, but nobody can register any more.")


class SessionForm(TimezoneFormMixin, forms.ModelForm):
    tz_field = None
    starts_at = LocalDateTimeField(label="Starts")
    ends_at = LocalDateTimeField(label="Ends")
    speakers = forms.ModelMultipleChoiceField(
        queryset=Speaker.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Session
        fields = ["title", "description", "starts_at", "ends_at", "room", "capacity", "speakers"]

    def __init__(self, *args, org, event, **kwargs):
        self.tz_name = event.timezone
        super().__init__(*args, **kwargs)
        self.fields["speakers"].queryset = Speaker.objects.for_org(org)
        self.fields["description"].widget.attrs["rows"] = 2
        self.localize_initial()

    def _post_clean(self):
        """The service validates (times inside the event, speakers of this organization)."""

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["speaker_ids"] = [s.pk for s in data.pop("speakers", [])]
        return data


class SpeakerForm(forms.ModelForm):
    class Meta:
        model = Speaker
        fields = ["name", "company", "email", "bio"]


class TicketTypeForm(TimezoneFormMixin, forms.ModelForm):
    tz_field = None
    sales_start = LocalDateTimeField(label="Sales start", required=False)
    sales_end = LocalDateTimeField(label="Sales end", required=False)

    class Meta:
        model = TicketType
        fields = ["name", "description", "price", "currency", "capacity", "sales_start", "sales_end"]

    def __init__(self, *args, event, **kwargs):
        self.tz_name = event.timezone
        super().__init__(*args, **kwargs)
        self.localize_initial()

    def _post_clean(self):
        """The service validates."""

    def service_fields(self) -> dict:
        return dict(self.cleaned_data)


class RegistrationForm(forms.Form):
    """The public registration form. Ticket types and sessions come from the event."""

    name = forms.CharField(max_length=200, label="Full name")
    email = forms.EmailField(label="E-mail")
    ticket_type = forms.TypedChoiceField(coerce=int, label="Ticket", widget=forms.RadioSelect, empty_value=None)
    sessions = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Sessions you plan to attend"
    )

    def __init__(self, *args, ticket_types, sessions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ticket_type"].choices = [(tt.pk, tt.name) for tt in ticket_types if tt.is_on_sale]
        self.fields["sessions"].choices = [(s.pk, s.title) for s in sessions if not s.cancelled]
        if not sessions:
            del self.fields["sessions"]
        self.fields["ticket_type"].error_messages["invalid_choice"] = "This ticket is not available any more."
        self.fields["ticket_type"].error_messages["required"] = "Choose a ticket."


def apply_domain_error(form: forms.Form, error) -> None:
    """Put a service's DomainError beside the field it concerns (or at the top of the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class PaymentRecordForm(forms.Form):
    """Money received outside the platform: cash at the door, a bank transfer, a paid invoice."""

    amount = forms.DecimalField(label="Amount", min_value=Decimal("0.01"), max_digits=10, decimal_places=2)
    reference = forms.CharField(
        label="Reference", required=False, max_length=200, help_text="Receipt, transfer or invoice number (optional)."
    )

    def __init__(self, *args, currency: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if currency:
            self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "step": "0.01"})
