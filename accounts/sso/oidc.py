"""OpenID Connect per organization, as an alternative to SAML: allauth's ``openid_connect`` provider.

An organization whose SSO configuration uses OpenID Connect has one allauth ``SocialApp`` (provider
``openid_connect``, provider id ``oidc.<slug>``, serving ``/accounts/oidc/oidc.<slug>/login/`` and its
``login/callback/``), kept in sync with the configuration. The provider id's dot cannot appear in an
organization slug, so it never collides with a SAML app (whose provider id is the bare slug).

Everything after the identity provider answers is shared with SAML: the same domain routing, the same
attribute and group → role mapping, and the same provisioning path (``accounts.sso.adapters``).
"""

from __future__ import annotations

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp
from django.http import Http404, HttpRequest

from accounts.models import SsoConfiguration, SsoProtocol

PROVIDER = "openid_connect"
PROVIDER_PREFIX = "oidc."
#: standard claims used when the mapped attribute names are not among the claims
STANDARD_CLAIMS = {"email": "email", "first_name": "given_name", "last_name": "family_name", "groups": "groups"}


def oidc_provider_id(slug: str) -> str:
    return f"{PROVIDER_PREFIX}{slug}"


def oidc_configuration_for_provider(provider_id: str) -> SsoConfiguration | None:
    """The OpenID Connect configuration behind an allauth provider id (``oidc.<slug>``), if any."""
    if not provider_id.startswith(PROVIDER_PREFIX):
        return None
    slug = provider_id.removeprefix(PROVIDER_PREFIX)
    return (
        SsoConfiguration.objects.select_related("organization").filter(organization__slug=slug, protocol=SsoProtocol.OIDC).first()
    )


def oidc_app_settings(*, config: SsoConfiguration) -> dict:
    return {
        # never listed as a button on the login page: users are routed by their e-mail's domain
        "hidden": True,
        "server_url": config.oidc_issuer,
        # the authorization code is bound to this browser's sign-in (RFC 7636)
        "oauth_pkce_enabled": True,
    }


def oidc_app_sync(*, config: SsoConfiguration) -> SocialApp | None:
    """Create, update or remove the organization's OpenID Connect SocialApp (inside the caller's transaction)."""
    apps = SocialApp.objects.filter(provider=PROVIDER, provider_id=oidc_provider_id(config.organization.slug))
    if config.protocol != SsoProtocol.OIDC or not config.oidc_is_complete:
        apps.delete()
        return None
    app = apps.first() or SocialApp(provider=PROVIDER, provider_id=oidc_provider_id(config.organization.slug))
    app.name = config.organization.name[:40]
    app.client_id = config.oidc_client_id
    app.secret = config.oidc_client_secret
    app.settings = oidc_app_settings(config=config)
    app.save()
    return app


def oidc_provider(request: HttpRequest, config: SsoConfiguration):
    """The allauth provider to send ``config``'s users to (404 when the app is missing)."""
    try:
        return get_adapter().get_provider(request, oidc_provider_id(config.organization.slug))
    except SocialApp.DoesNotExist as exc:
        raise Http404("No OpenID Connect sign-in for this organization") from exc


def oidc_claims(extra_data: dict) -> dict:
    """The claims an OpenID Connect login carried: the ID token's, overridden by the userinfo endpoint's."""
    extra_data = extra_data or {}
    if "userinfo" not in extra_data and "id_token" not in extra_data:
        return dict(extra_data)
    return {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}


def _names(value: str) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _claim(claims: dict, names: list[str]) -> object:
    for name in names:
        value = claims.get(name)
        if value not in (None, "", []):
            return value
    return None


def oidc_groups(extra_data: dict, config: SsoConfiguration) -> list[str]:
    """The groups claim named by the configuration (a list, or one space- or comma-separated string)."""
    value = _claim(oidc_claims(extra_data), [*_names(config.attribute_groups), STANDARD_CLAIMS["groups"]])
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def oidc_user_data(extra_data: dict, config: SsoConfiguration) -> dict:
    """E-mail and names from the claims the configuration maps (else the standard claims)."""
    claims = oidc_claims(extra_data)
    data = {}
    for field, attribute in (
        ("email", config.attribute_email),
        ("first_name", config.attribute_first_name),
        ("last_name", config.attribute_last_name),
    ):
        value = _claim(claims, [*_names(attribute), STANDARD_CLAIMS[field]])
        if isinstance(value, str) and value.strip():
            data[field] = value.strip()
    return data
