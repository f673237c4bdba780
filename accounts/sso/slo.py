"""SAML single logout (HTTP-Redirect binding), both ways.

- Logging out of Convene after a single sign-on sends a LogoutRequest to the organization's identity
  provider (when it publishes a single logout URL); the IdP answers at ``/accounts/saml/<slug>/sls/``
  with a LogoutResponse, which must answer the request this browser sent.
- A LogoutRequest from the IdP arriving at ``/sls/`` ends the Convene sessions its NameID opened through
  that IdP: this browser's, and the other browsers' recorded at sign-in. The IdP gets a LogoutResponse.

python3-saml validates every logout message (issuer, destination, time and the IdP's signature). Unlike
allauth's own SLS view, which this one replaces, unsigned logout messages are refused: otherwise any web
page could log a user out, or fake the IdP's confirmation.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from importlib import import_module

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.views import LogoutView as AllauthLogoutView
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.saml.utils import build_saml_config, get_app_or_404, prepare_django_request
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request

from accounts.models import Organization, User
from accounts.sso import selectors, services

logger = logging.getLogger(__name__)

#: the session's single sign-on: organization slug, NameID (format, qualifiers) and SessionIndex
SESSION_KEY = "sso_saml"
#: the LogoutRequest this browser sent to the IdP: organization slug and request id
PENDING_KEY = "sso_slo_pending"
#: the cache key listing the session keys a NameID opened through an organization's IdP
REGISTRY_KEY = "sso_sessions:{slug}:{digest}"
REGISTRY_MAX = 50

LOGOUT_FAILED_MESSAGES = {
    "response": (
        "You are logged out of Convene, but your identity provider's answer could not be verified: "
        "you may still be signed in there. Close your browser to be sure."
    ),
    "request": "A request to log you out could not be verified, so nothing was changed.",
}


def _auth(request: HttpRequest, slug: str) -> OneLogin_Saml2_Auth:
    """python3-saml for the organization's IdP, insisting on signed logout messages."""
    provider = get_app_or_404(request, slug).get_provider(request)
    config = copy.deepcopy(build_saml_config(request, provider.app.settings, slug))
    config["security"]["wantMessagesSigned"] = True
    data = prepare_django_request(request)
    # check the IdP's signature over the query string exactly as it was sent (encodings differ between IdPs)
    data["query_string"] = request.META.get("QUERY_STRING", "")
    data["validate_signature_from_qs"] = True
    return OneLogin_Saml2_Auth(data, config)


def _registry_key(slug: str, name_id: str) -> str:
    return REGISTRY_KEY.format(slug=slug, digest=hashlib.sha256(name_id.encode()).hexdigest()[:32])


# --- sign-in: remember what to log out ---------------------------------------------------------------


def remember_sign_in(request: HttpRequest, *, org: Organization, auth: OneLogin_Saml2_Auth) -> None:
    """Keep in the session who the IdP signed in, for a LogoutRequest later (before the login completes)."""
    request.session[SESSION_KEY] = {
        "org": org.slug,
        "name_id": auth.get_nameid() or "",
        "name_id_format": auth.get_nameid_format() or "",
        "nq": auth.get_nameid_nq() or "",
        "spnq": auth.get_nameid_spnq() or "",
        "session_index": auth.get_session_index() or "",
    }


def register_session(request: HttpRequest) -> None:
    """After a completed SSO login: list this session under its NameID, so the IdP can end it from anywhere."""
    info = request.session.get(SESSION_KEY)
    if not info or not request.user.is_authenticated or not info.get("name_id"):
        return
    if request.session.session_key is None:
        request.session.save()
    key = _registry_key(info["org"], info["name_id"])
    current = request.session.session_key
    keys = [k for k in cache.get(key, []) if k != current][-(REGISTRY_MAX - 1) :]
    cache.set(key, [*keys, current], timeout=settings.SESSION_COOKIE_AGE)


def _session_sso(request: HttpRequest) -> dict | None:
    """The single sign-on this session's user came through, if any (and still theirs)."""
    info = request.session.get(SESSION_KEY)
    if not info or not request.user.is_authenticated or not info.get("name_id"):
        return None
    # the user must have signed in through this IdP: a refused sign-in may have left the data behind
    if not SocialAccount.objects.filter(user=request.user, provider=info["org"]).exists():
        return None
    return info


# --- logging out here (SP-initiated) -----------------------------------------------------------------


class LogoutView(AllauthLogoutView):
    """allauth's logout, followed by a LogoutRequest to the IdP when the user signed in through it."""

    def post(self, *args: object, **kwargs: object) -> HttpResponse:
        request = self.request
        info = _session_sso(request)
        user = request.user if request.user.is_authenticated else None
        response = super().post(*args, **kwargs)
        if info is None:
            return response
        config = selectors.sso_configuration_for_slug(slug=info["org"])
        if config is None or not config.slo_url:
            return response
        try:
            auth = _auth(request, info["org"])
            url = auth.logout(
                return_to=reverse("account_login"),
                name_id=info["name_id"],
                session_index=info["session_index"] or None,
                name_id_format=info["name_id_format"] or None,
                nq=info["nq"] or None,
                spnq=info["spnq"] or None,
            )
        except (Http404, ImproperlyConfigured, OneLogin_Saml2_Error) as exc:
            logger.warning("No single logout at %s's IdP: %s", info["org"], exc)
            return response
        request.session[PENDING_KEY] = {"org": info["org"], "id": auth.get_last_request_id()}
        services.sso_logout_record(org=config.organization, actor=user, initiated_by="sp", name_id=info["name_id"], sessions=1)
        return HttpResponseRedirect(url)


logout = LogoutView.as_view()


# --- the single logout service: the IdP's answers and requests ---------------------------------------


def _failed(request: HttpRequest, *, org: Organization, kind: str, detail: str) -> HttpResponse:
    logger.warning("SAML logout %s refused for %s: %s", kind, org.slug, detail)
    services.sso_logout_refuse(org=org, kind=kind, detail=detail)
    context = {"organization": org, "message": LOGOUT_FAILED_MESSAGES[kind], "login_url": reverse("account_login")}
    return render(request, "accounts/sso_logout_failed.html", context, status=400)


def _errors(auth: OneLogin_Saml2_Auth) -> str:
    return auth.get_last_error_reason() or ", ".join(auth.get_errors())


@csrf_exempt
@require_GET
def sls(request: HttpRequest, organization_slug: str) -> HttpResponse:
    config = selectors.sso_configuration_for_slug(slug=organization_slug)
    if config is None:
        raise Http404("No single sign-on for this organization")
    org = config.organization
    try:
        auth = _auth(request, organization_slug)
    except ImproperlyConfigured as exc:
        raise Http404("No single sign-on for this organization") from exc
    if "SAMLResponse" in request.GET:
        return _logout_response(request, org=org, auth=auth)
    if "SAMLRequest" in request.GET:
        return _logout_request(request, org=org, auth=auth)
    return _failed(request, org=org, kind="request", detail="no SAMLRequest or SAMLResponse in the query string")


def _logout_response(request: HttpRequest, *, org: Organization, auth: OneLogin_Saml2_Auth) -> HttpResponse:
    """The IdP's answer to our LogoutRequest: we are logged out already; did the IdP log out too?"""
    pending = request.session.pop(PENDING_KEY, None)
    if not pending or pending.get("org") != org.slug:
        return _failed(request, org=org, kind="response", detail="no logout was started in this browser")
    try:
        auth.process_slo(request_id=pending["id"], keep_local_session=True)
    except Exception as exc:  # malformed input: python3-saml, base64 and lxml have no common error
        return _failed(request, org=org, kind="response", detail=f"{type(exc).__name__}: {exc}")
    if auth.get_errors():
        return _failed(request, org=org, kind="response", detail=_errors(auth))
    # allauth has said "You have signed out." already: this adds the IdP's side
    messages.success(request, f"Your {org.name} single sign-on session has ended too.")
    return HttpResponseRedirect(reverse("account_login"))


def _logout_request(request: HttpRequest, *, org: Organization, auth: OneLogin_Saml2_Auth) -> HttpResponse:
    """The IdP logs a NameID out: end that person's sessions opened through this IdP, then answer."""
    ended: dict = {"count": 0, "user": None, "name_id": ""}

    def end_sessions() -> None:  # called by python3-saml once the request is valid
        xml = auth.get_last_request_xml()
        name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
        indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(xml)
        ended["name_id"] = name_id
        ended["count"], ended["user"] = _end_sessions(request, slug=org.slug, name_id=name_id, indexes=indexes)

    try:
        url = auth.process_slo(keep_local_session=False, delete_session_cb=end_sessions)
    except Exception as exc:  # malformed input: python3-saml, base64 and lxml have no common error
        return _failed(request, org=org, kind="request", detail=f"{type(exc).__name__}: {exc}")
    if auth.get_errors() or not url:
        return _failed(request, org=org, kind="request", detail=_errors(auth) or "no answer to send")
    services.sso_logout_record(
        org=org, actor=ended["user"], initiated_by="idp", name_id=ended["name_id"], sessions=ended["count"]
    )
    return HttpResponseRedirect(url)


def _matches(info: dict | None, *, slug: str, name_id: str, indexes: list[str]) -> bool:
    return bool(
        info
        and info.get("org") == slug
        and info.get("name_id") == name_id
        and (not indexes or info.get("session_index") in indexes)
    )


def _end_sessions(request: HttpRequest, *, slug: str, name_id: str, indexes: list[str]) -> tuple[int, User | None]:
    """End this browser's session and the recorded others of ``name_id``; returns how many, and whose."""
    count, user = 0, None
    current = request.session.session_key
    if request.user.is_authenticated and _matches(request.session.get(SESSION_KEY), slug=slug, name_id=name_id, indexes=indexes):
        user = request.user
        get_account_adapter(request).logout(request)
        count += 1
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    key = _registry_key(slug, name_id)
    kept = []
    for session_key in cache.get(key, []):
        if session_key == current:
            continue
        store = store_class(session_key=session_key)
        data = store.load()
        if not data.get("_auth_user_id"):
            continue  # gone already (logged out or expired)
        if not _matches(data.get(SESSION_KEY), slug=slug, name_id=name_id, indexes=indexes):
            kept.append(session_key)
            continue
        user = user or User.objects.filter(pk=data["_auth_user_id"]).first()
        store.delete(session_key)
        count += 1
    if kept:
        cache.set(key, kept, timeout=settings.SESSION_COOKIE_AGE)
    else:
        cache.delete(key)
    return count, user
