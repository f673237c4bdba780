"""Authentication signals → the audit log, and the "set up MFA first" flag of a password login."""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records
from allauth.account.signals import user_logged_in
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth.signals import user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import services_security

#: session key: names of the organizations that require this password login to set up MFA first
MFA_SETUP_SESSION_KEY = "accounts_mfa_setup_required"


def _login_method(request: HttpRequest, user, sociallogin=None) -> tuple[str, str, str]:
    """(method, provider, mfa type) of the login that just completed, from allauth's records of this session."""
    records = get_authentication_records(request, user) if hasattr(request, "session") else []
    mfa = next((str(r.get("type", "")) for r in reversed(records) if r.get("method") == "mfa"), "")
    social = sociallogin or next((r for r in reversed(records) if r.get("method") == "socialaccount"), None)
    if social is not None:
        provider = sociallogin.account.provider if sociallogin is not None else str(social.get("provider", ""))
        return "sso", provider, mfa
    return "password", "", mfa


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def on_logged_in(sender, request: HttpRequest, user, sociallogin=None, **kwargs) -> None:
    method, provider, mfa = _login_method(request, user, sociallogin)
    services_security.login_record(request=request, user=user, method=method, provider=provider, mfa=mfa)
    if method != "password" or not hasattr(request, "session"):
        return  # single sign-on: the identity provider does the second factor
    orgs = services_security.mfa_required_by(user=user)
    if orgs and not is_mfa_enabled(user):
        request.session[MFA_SETUP_SESSION_KEY] = [org.name for org in orgs]
    else:
        request.session.pop(MFA_SETUP_SESSION_KEY, None)


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def on_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    email = credentials.get("email") or credentials.get("username") or ""
    services_security.login_failure_record(request=request, email=str(email))


@receiver(user_logged_out, dispatch_uid="accounts.audit_logout")
def on_logged_out(sender, request: HttpRequest | None, user=None, **kwargs) -> None:
    if user is not None and user.is_authenticated:
        services_security.logout_record(request=request, user=user)
