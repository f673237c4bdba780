"""The SSO settings form, the command's and the login page's "Continue with SSO" form."""

from __future__ import annotations

from django import forms

from accounts.models import Role, SsoConfiguration, SsoProtocol, SsoSource


def role_map_parse(text: str) -> dict[str, str]:
    """``group=role`` pairs, one per line or comma-separated, into a dict (roles checked by the service)."""
    result: dict[str, str] = {}
    for item in text.replace("\n", ",").split(","):
        if not item.strip():
            continue
        group, sep, role = item.rpartition("=")
        if not sep or not group.strip():
            raise forms.ValidationError(f"“{item.strip()}” is not group=role.")
        result[group.strip()] = role.strip().lower()
    return result


def role_map_format(role_map: dict) -> str:
    return "\n".join(f"{group}={role}" for group, role in sorted(role_map.items()))


class SsoSettingsForm(forms.Form):
    protocol = forms.ChoiceField(
        label="Protocol",
        choices=SsoProtocol.choices,
        widget=forms.RadioSelect,
        initial=SsoProtocol.SAML,
        required=False,
    )
    oidc_issuer = forms.CharField(
        label="Issuer",
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://login.example.com/realms/acme"}),
        help_text="Its discovery document (/.well-known/openid-configuration) is read at each sign-in.",
    )
    oidc_client_id = forms.CharField(label="Client ID", required=False, max_length=255)
    oidc_client_secret = forms.CharField(
        label="Client secret",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored, never shown again. Leave empty to keep the current one.",
    )
    source = forms.ChoiceField(
        label="How do you give your identity provider?",
        choices=SsoSource.choices,
        widget=forms.RadioSelect,
        initial=SsoSource.METADATA_URL,
    )
    metadata_url = forms.CharField(
        label="Metadata URL",
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://idp.example.com/saml/metadata"}),
        help_text="Read once now; save again to read it anew (for example after a certificate change).",
    )
    metadata_xml = forms.CharField(
        label="Metadata XML",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "code", "spellcheck": "false"}),
    )
    entity_id = forms.CharField(label="IdP entity ID", required=False, max_length=500)
    sso_url = forms.CharField(label="Single sign-on URL", required=False, widget=forms.URLInput())
    slo_url = forms.CharField(label="Single logout URL", required=False, widget=forms.URLInput(), help_text="Optional.")
    certificate = forms.CharField(
        label="Signing certificate",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "class": "code", "spellcheck": "false", "placeholder": "-----BEGIN CERTIFICATE-----"}
        ),
        help_text="PEM. Leave empty to keep the current one.",
    )
    domains = forms.CharField(
        label="E-mail domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "example.com"}),
        help_text="One per line. People with these addresses sign in through your identity provider.",
    )
    attribute_email = forms.CharField(label="E-mail attribute", max_length=500)
    attribute_first_name = forms.CharField(label="First name attribute", max_length=500, required=False)
    attribute_last_name = forms.CharField(label="Last name attribute", max_length=500, required=False)
    attribute_groups = forms.CharField(label="Groups attribute", max_length=500, required=False)
    role_map = forms.CharField(
        label="Group → role",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "convene-admins=admin\nevent-team=organizer"}),
        help_text=f"One group=role per line. Roles: {', '.join(Role.values)}. Several groups: the most powerful role wins.",
    )
    default_role = forms.ChoiceField(
        label="Role of people in no mapped group",
        required=False,
        choices=[("", "None: refuse them"), *Role.choices],
    )
    require_sso = forms.BooleanField(
        label="Require single sign-on for users of these domains (no password login)", required=False
    )
    allow_idp_initiated = forms.BooleanField(label="Allow sign-in started from the identity provider's portal", required=False)
    enabled = forms.BooleanField(label="Single sign-on is on", required=False)

    def oidc_settings(self) -> dict:
        """The protocol and OpenID Connect settings to save (an empty secret keeps the stored one)."""
        data = self.cleaned_data
        fields = {"oidc_issuer": data["oidc_issuer"], "oidc_client_id": data["oidc_client_id"]}
        if data["protocol"]:  # not given: unchanged
            fields["protocol"] = data["protocol"]
        if data["oidc_client_secret"]:
            fields["oidc_client_secret"] = data["oidc_client_secret"]
        return fields

    def clean_role_map(self) -> dict[str, str]:
        return role_map_parse(self.cleaned_data["role_map"])

    def clean_domains(self) -> list[str]:
        return [d for d in self.cleaned_data["domains"].replace(",", "\n").split() if d.strip()]

    @classmethod
    def initial_for(cls, config: SsoConfiguration | None, domains: list[str]) -> dict:
        if config is None:
            defaults = SsoConfiguration()
            return {
                "protocol": SsoProtocol.SAML,
                "source": SsoSource.METADATA_URL,
                "attribute_email": defaults.attribute_email,
                "attribute_first_name": defaults.attribute_first_name,
                "attribute_last_name": defaults.attribute_last_name,
                "attribute_groups": defaults.attribute_groups,
            }
        return {
            "protocol": config.protocol,
            "oidc_issuer": config.oidc_issuer,
            "oidc_client_id": config.oidc_client_id,
            "source": config.source,
            "metadata_url": config.metadata_url,
            "metadata_xml": config.metadata_xml,
            "entity_id": config.idp_entity_id,
            "sso_url": config.sso_url,
            "slo_url": config.slo_url,
            "domains": "\n".join(domains),
            "attribute_email": config.attribute_email,
            "attribute_first_name": config.attribute_first_name,
            "attribute_last_name": config.attribute_last_name,
            "attribute_groups": config.attribute_groups,
            "role_map": role_map_format(config.role_map),
            "default_role": config.default_role,
            "require_sso": config.require_sso,
            "allow_idp_initiated": config.allow_idp_initiated,
            "enabled": config.enabled,
        }


class SsoLoginForm(forms.Form):
    email = forms.EmailField(
        label="Work e-mail",
        widget=forms.EmailInput(attrs={"placeholder": "you@company.com", "autocomplete": "email"}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
