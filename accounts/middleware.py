"""An owner or admin of an organization that requires MFA, logged in with a password and without MFA,
is sent to set it up before anything else (the MFA pages, re-authentication and logout stay open)."""

from __future__ import annotations

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.signals import MFA_SETUP_SESSION_KEY


class MfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._open_prefixes: tuple[str, ...] | None = None

    def open_prefixes(self) -> tuple[str, ...]:
        if self._open_prefixes is None:
            self._open_prefixes = (
                reverse("mfa_index"),
                reverse("account_logout"),
                reverse("account_reauthenticate"),
                "/" + settings.STATIC_URL.lstrip("/"),
                "/api/",
            )
        return self._open_prefixes

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is None or MFA_SETUP_SESSION_KEY not in session:
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated or is_mfa_enabled(user):
            session.pop(MFA_SETUP_SESSION_KEY, None)
            return self.get_response(request)
        if request.path.startswith(self.open_prefixes()):
            return self.get_response(request)
        orgs = ", ".join(session[MFA_SETUP_SESSION_KEY])
        messages.warning(
            request,
            f"{orgs} requires two-factor authentication for owners and admins. "
            "Set up an authenticator app or a security key to continue.",
        )
        return HttpResponseRedirect(reverse("mfa_index"))
