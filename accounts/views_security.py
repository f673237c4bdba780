"""The "Security" section of the SSO page: require two-factor authentication for owners and admins."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import Role
from accounts.services_security import organization_security_update
from portal.errors import DomainError


class SecurityForm(forms.Form):
    require_mfa_for_admins = forms.BooleanField(
        label="Require two-factor authentication for owners and admins",
        required=False,
        help_text=(
            "Owners and admins who log in with a password must set up an authenticator app or a security key "
            "before anything else. Single sign-on logins are exempt: your identity provider asks for the second factor."
        ),
    )


def security_context(request: HttpRequest) -> dict:
    org = request.organization
    return {
        "security_form": SecurityForm(initial={"require_mfa_for_admins": org.require_mfa_for_admins}),
        "can_edit_security": request.membership.role == Role.OWNER,
    }


def security_settings_post(request: HttpRequest) -> HttpResponse:
    """Save the Security section (the SSO page's view has checked ``sso.manage``; the service, ownership)."""
    org = request.organization
    form = SecurityForm(request.POST)
    if form.is_valid():
        try:
            organization_security_update(
                org=org, actor=request.user, require_mfa_for_admins=form.cleaned_data["require_mfa_for_admins"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Security settings saved.")
    return redirect("accounts:sso-settings", org.slug)
