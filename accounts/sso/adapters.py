"""allauth adapters: password logins of SSO-only domains are refused; SAML sign-ins provision members.

Rules for a SAML sign-in to organization O (every refusal is audited and shown on a page that says why):
- the asserted e-mail must be in one of O's domains;
- the IdP groups must map to a role (or O has a default role); a returning user whose groups no longer
  map loses the membership (never the last owner);
- an account that exists already (same e-mail, no link to this IdP yet) is linked only when it is not an
  instance administrator and is already a member of O or of no organization at all — another
  organization's IdP can never take over someone's account.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import user_email
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.db import transaction
from django.http import HttpRequest

from accounts import services_security
from accounts.models import Membership, SsoConfiguration, SsoProtocol, User
from accounts.sso import oidc, selectors, services

SSO_REQUIRED_MESSAGE = "Your organization signs you in through its identity provider: use “Continue with single sign-on” below."


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # the same words whether or not the address has an account
        "too_many_login_attempts": (
            "Too many failed login attempts: logging in with this address is paused for a few minutes. "
            "Wait and try again, or reset your password."
        ),
    }

    def pre_authenticate(self, request: HttpRequest, **credentials: object) -> None:
        email = str(credentials.get("email") or credentials.get("username") or "").strip().lower()
        if email and (config := selectors.sso_required_for_email(email=email)):
            services.sso_password_login_refuse(org=config.organization, email=email)
            raise forms.ValidationError(SSO_REQUIRED_MESSAGE, code="sso_required")
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                services_security.login_throttle_record(request=request, email=email)
            raise


def _config_of(sociallogin) -> SsoConfiguration | None:
    """The SSO configuration a login belongs to: a SAML SocialAccount's provider is the org slug,
    an OpenID Connect one's is ``oidc.<slug>``."""
    provider = sociallogin.account.provider
    if provider.startswith(oidc.PROVIDER_PREFIX):
        return oidc.oidc_configuration_for_provider(provider)
    return selectors.sso_configuration_for_slug(slug=provider)


def _refuse(request: HttpRequest, config: SsoConfiguration, reason: str, **kwargs: object) -> ImmediateHttpResponse:
    from accounts.sso.acs import refusal

    return ImmediateHttpResponse(refusal(request, org=config.organization, reason=reason, **kwargs))


def _may_link(config: SsoConfiguration, user: User) -> bool:
    if user.is_superuser or user.is_staff:
        return False
    memberships = set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    return not memberships or memberships == {config.organization_id}


def _login_facts(sociallogin, config: SsoConfiguration) -> tuple[str, list[str], str | None]:
    from accounts.sso.acs import groups_from

    email = (user_email(sociallogin.user) or "").strip().lower()
    extra_data = sociallogin.account.extra_data or {}
    groups = oidc.oidc_groups(extra_data, config) if config.protocol == SsoProtocol.OIDC else groups_from(extra_data, config)
    return email, groups, services.role_for_groups(config, groups)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        config = _config_of(sociallogin)
        if config is None:
            return
        org = config.organization
        email, groups, role = _login_facts(sociallogin, config)
        name_id = sociallogin.account.uid
        facts = {"email": email, "name_id": name_id}
        if config.protocol == SsoProtocol.OIDC and not config.enabled:  # SAML checks this in acs.finish_acs
            raise _refuse(request, config, "disabled", **facts)
        if not email:
            raise _refuse(request, config, "no_email", **facts)
        if selectors.email_domain(email) not in services.sso_domains(org):
            raise _refuse(request, config, "email_domain", detail=email, **facts)

        if sociallogin.is_existing:
            user = sociallogin.user
            _, membership = services.sso_membership_sync(org=org, user=user, role=role, groups=groups)
            if membership is None:
                raise _refuse(request, config, "no_role", detail=f"groups {groups}", user=user, **facts)
            return

        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            if not _may_link(config, existing):
                raise _refuse(request, config, "link_refused", detail=email, **facts)
            if role is None:
                services.sso_membership_sync(org=org, user=existing, role=None, groups=groups)
                raise _refuse(request, config, "no_role", detail=f"groups {groups}", user=existing, **facts)
            sociallogin.connect(request, existing)
            services.sso_membership_sync(org=org, user=existing, role=role, groups=groups, linked=True)
            return
        if role is None:
            raise _refuse(request, config, "no_role", detail=f"groups {groups}", **facts)
        # a new user: created with the membership by save_user()

    def populate_user(self, request: HttpRequest, sociallogin, data: dict) -> User:
        config = _config_of(sociallogin)
        if config is not None and config.protocol == SsoProtocol.OIDC:  # the configured claim names
            data = {**data, **oidc.oidc_user_data(sociallogin.account.extra_data, config)}
        user = super().populate_user(request, sociallogin, data)
        user.email = (user.email or "").lower()
        user.name = " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)[:200]
        return user

    def save_user(self, request: HttpRequest, sociallogin, form=None) -> User:
        config = _config_of(sociallogin)
        if config is None:
            return super().save_user(request, sociallogin, form)
        _, groups, role = _login_facts(sociallogin, config)
        if role is None:  # pre_social_login refused this already; never create a member without a role
            raise _refuse(request, config, "no_role", detail=f"groups {groups}")
        with transaction.atomic(durable=True):
            user = super().save_user(request, sociallogin, form)
            services.sso_user_provision(org=config.organization, user=user, role=role, groups=groups)
        return user

    def on_authentication_error(self, request: HttpRequest, provider, error=None, exception=None, extra_context=None) -> None:
        app = getattr(provider, "app", None)
        config = selectors.sso_configuration_for_slug(slug=app.client_id) if app is not None and provider.id == "saml" else None
        if app is not None and provider.id == oidc.PROVIDER:
            config = oidc.oidc_configuration_for_provider(app.provider_id)
        if config is None:
            return super().on_authentication_error(request, provider, error, exception, extra_context)
        detail = (extra_context or {}).get("saml_last_error_reason") or str(error or exception or "")
        raise _refuse(request, config, "invalid", detail=detail)
