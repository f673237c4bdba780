"""The end of a SAML sign-in: the assertion consumer's second step, and the refusal page.

allauth's ``saml/<slug>/acs/`` keeps the IdP's POST and redirects to ``acs/finish/`` (so the session
cookie comes along even with SameSite=Lax); this view takes the place of allauth's finish step to add
what it leaves out: a clear refusal page and an audit entry for every failure, a replay check on the
assertion id, the organization's "IdP-initiated" and "enabled" switches, and the owners' test sign-in.
All SAML validation is python3-saml's (signature, audience, destination, time conditions, wrapping).
"""

from __future__ import annotations

import binascii
import logging
from datetime import UTC, datetime

from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.internal import statekit
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml.utils import build_auth, decode_relay_state, get_app_or_404, prepare_django_request
from allauth.socialaccount.sessions import LoginSession
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response

from accounts.models import Organization, SsoConfiguration, User
from accounts.sso import selectors, services, slo

logger = logging.getLogger(__name__)

#: what the refused person is told, by reason (the audit entry keeps python3-saml's detail)
REFUSAL_MESSAGES = {
    "signature": "The sign-in response is not signed by your organization's identity provider.",
    "audience": "The sign-in response was meant for another service, not Convene.",
    "destination": "The sign-in response was sent to another address than Convene's.",
    "expired": "The sign-in response has expired. Please sign in again.",
    "not_yet_valid": "The sign-in response is not valid yet. The identity provider's clock may be wrong.",
    "replayed": "This sign-in response has already been used. Please sign in again.",
    "in_response_to": (
        "This sign-in response does not answer a sign-in started in this browser. Please start again from the login page."
    ),
    "idp_initiated": (
        "Signing in from the identity provider's portal is switched off for this organization. Start from Convene's login page."
    ),
    "issuer": "The sign-in response comes from another identity provider than the one your organization configured.",
    "tampered": "The sign-in response has been altered and cannot be trusted.",
    "idp_error": "Your identity provider did not sign you in.",
    "session_missing": "The sign-in could not be completed: the sign-in data was lost. Please try again.",
    "disabled": "Single sign-on is switched off for this organization.",
    "no_email": "Your identity provider did not send your e-mail address.",
    "email_domain": "Your e-mail address is not in one of this organization's domains.",
    "link_refused": (
        "An account with your e-mail address already exists and cannot be linked to this identity provider. "
        "Ask your organization's owner."
    ),
    "no_role": "You are not in any group that gives access to this organization. Ask your administrator for access.",
    "invalid": "The sign-in response is not valid.",
}

_CODE_REASONS = {
    OneLogin_Saml2_ValidationError.NO_SIGNATURE_FOUND: "signature",
    OneLogin_Saml2_ValidationError.INVALID_SIGNATURE: "signature",
    OneLogin_Saml2_ValidationError.NO_SIGNED_ASSERTION: "signature",
    OneLogin_Saml2_ValidationError.NO_SIGNED_MESSAGE: "signature",
    OneLogin_Saml2_ValidationError.DEPRECATED_SIGNATURE_METHOD: "signature",
    OneLogin_Saml2_ValidationError.DEPRECATED_DIGEST_METHOD: "signature",
    OneLogin_Saml2_ValidationError.WRONG_AUDIENCE: "audience",
    OneLogin_Saml2_ValidationError.WRONG_DESTINATION: "destination",
    OneLogin_Saml2_ValidationError.EMPTY_DESTINATION: "destination",
    OneLogin_Saml2_ValidationError.ASSERTION_EXPIRED: "expired",
    OneLogin_Saml2_ValidationError.SESSION_EXPIRED: "expired",
    OneLogin_Saml2_ValidationError.ASSERTION_TOO_EARLY: "not_yet_valid",
    OneLogin_Saml2_ValidationError.WRONG_INRESPONSETO: "in_response_to",
    OneLogin_Saml2_ValidationError.WRONG_ISSUER: "issuer",
    OneLogin_Saml2_ValidationError.STATUS_CODE_IS_NOT_SUCCESS: "idp_error",
    OneLogin_Saml2_ValidationError.WRONG_NUMBER_OF_ASSERTIONS: "tampered",
    OneLogin_Saml2_ValidationError.WRONG_SIGNED_ELEMENT: "tampered",
    OneLogin_Saml2_ValidationError.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "tampered",
    OneLogin_Saml2_ValidationError.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "tampered",
    OneLogin_Saml2_ValidationError.INVALID_SIGNED_ELEMENT: "tampered",
    OneLogin_Saml2_ValidationError.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "tampered",
    OneLogin_Saml2_ValidationError.UNEXPECTED_SIGNED_ELEMENTS: "tampered",
    OneLogin_Saml2_ValidationError.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "tampered",
    OneLogin_Saml2_ValidationError.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "tampered",
    OneLogin_Saml2_ValidationError.INVALID_XML_FORMAT: "tampered",
}

#: the session key of an owner's test sign-in report, per organization slug
TEST_REPORT_KEY = "sso_test_report:{slug}"


def refusal(
    request: HttpRequest,
    *,
    org: Organization,
    reason: str,
    detail: str = "",
    email: str = "",
    name_id: str = "",
    user: User | None = None,
) -> HttpResponse:
    """Audit a refused sign-in and answer with a page that says why (403)."""
    logger.warning("SSO sign-in refused for %s: %s %s", org.slug, reason, detail)
    services.sso_login_refuse(org=org, reason=reason, detail=detail, email=email, name_id=name_id, user=user)
    context = {
        "organization": org,
        "reason": reason,
        "message": REFUSAL_MESSAGES.get(reason, REFUSAL_MESSAGES["invalid"]),
        "login_url": reverse("account_login"),
    }
    return render(request, "accounts/sso_refused.html", context, status=403)


def _failure_reason(acs_request: HttpRequest, auth) -> str:
    """Which check python3-saml failed, from its error code (its message alone is for people)."""
    try:
        response = OneLogin_Saml2_Response(auth.get_settings(), acs_request.POST.get("SAMLResponse", ""))
        response.is_valid(prepare_django_request(acs_request), raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as exc:
        return _CODE_REASONS.get(exc.code, "invalid")
    except Exception:  # noqa: S110 (unparseable input: "invalid" is the answer)
        pass
    return "invalid"


def _expiry(auth) -> datetime | None:
    timestamp = auth.get_last_assertion_not_on_or_after()
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def finish_acs(request: HttpRequest, organization_slug: str) -> HttpResponse:
    config: SsoConfiguration | None = selectors.sso_configuration_for_slug(slug=organization_slug)
    if config is None:
        raise Http404("No single sign-on for this organization")
    org = config.organization
    provider = get_app_or_404(request, organization_slug).get_provider(request)

    acs_session = LoginSession(request, "saml_acs_session", "saml-acs-session")
    acs_request_data = acs_session.store.get("request")
    acs_session.delete()
    if not acs_request_data:
        return refusal(request, org=org, reason="session_missing")
    from allauth.core.internal import httpkit

    acs_request = httpkit.deserialize_request(acs_request_data, HttpRequest())

    try:
        auth = build_auth(acs_request, provider)
    except ImproperlyConfigured as exc:
        return refusal(request, org=org, reason="invalid", detail=str(exc))
    try:
        # InResponseTo is checked below, against the sign-ins this browser started
        auth.process_response(request_id=None)
    except (binascii.Error, OneLogin_Saml2_Error, ValueError) as exc:
        return refusal(request, org=org, reason="invalid", detail=str(exc))
    except Exception as exc:
        return refusal(request, org=org, reason="tampered", detail=f"{type(exc).__name__}: {exc}")
    if auth.get_errors() or not auth.is_authenticated():
        detail = auth.get_last_error_reason() or ", ".join(auth.get_errors())
        return refusal(request, org=org, reason=_failure_reason(acs_request, auth), detail=detail)

    name_id = auth.get_nameid() or ""
    assertion_id = auth.get_last_assertion_id() or ""
    if not assertion_id or not services.sso_assertion_record(org=org, assertion_id=assertion_id, not_on_or_after=_expiry(auth)):
        return refusal(request, org=org, reason="replayed", detail=f"assertion {assertion_id}", name_id=name_id)

    in_response_to = auth.get_last_response_in_response_to()
    if in_response_to:
        state = statekit.unstash_state(request, provider_id=provider.sub_id, state_id=in_response_to)
        if state is None:
            return refusal(request, org=org, reason="in_response_to", detail=f"InResponseTo {in_response_to}", name_id=name_id)
    else:
        if not config.allow_idp_initiated:
            return refusal(request, org=org, reason="idp_initiated", name_id=name_id)
        state = {"process": AuthProcess.LOGIN}
        if next_url := decode_relay_state(acs_request.POST.get("RelayState")):
            state["next"] = next_url

    if (state.get("data") or {}).get("sso_test"):
        return _test_report(request, config=config, auth=auth, state=state)
    if not config.enabled:
        return refusal(request, org=org, reason="disabled", name_id=name_id)

    login = provider.sociallogin_from_response(request, auth)
    login.state = state
    slo.remember_sign_in(request, org=org, auth=auth)
    response = complete_social_login(request, login)
    slo.register_session(request)
    return response


def _test_report(request: HttpRequest, *, config: SsoConfiguration, auth, state: dict) -> HttpResponse:
    """An owner's test sign-in: keep what the IdP sent for the result page; nobody is logged in."""
    org = config.organization
    attributes = {name: list(values) for name, values in auth.get_attributes().items()}
    email = _first(attributes, services.attribute_names(config.attribute_email))
    if not email and auth.get_nameid_format() == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress":
        email = auth.get_nameid() or ""
    groups = groups_from(attributes, config)
    role = services.role_for_groups(config, groups)
    domains = services.sso_domains(org)
    problems = []
    if not email:
        problems.append(REFUSAL_MESSAGES["no_email"])
    elif selectors.email_domain(email) not in domains:
        problems.append(REFUSAL_MESSAGES["email_domain"])
    if role is None:
        problems.append(REFUSAL_MESSAGES["no_role"])
    report = {
        "name_id": auth.get_nameid() or "",
        "name_id_format": auth.get_nameid_format() or "",
        "session_index": auth.get_session_index() or "",
        "attributes": attributes,
        "email": email,
        "first_name": _first(attributes, services.attribute_names(config.attribute_first_name)),
        "last_name": _first(attributes, services.attribute_names(config.attribute_last_name)),
        "groups": groups,
        "role": role,
        "problems": problems,
    }
    request.session[TEST_REPORT_KEY.format(slug=org.slug)] = report
    if request.user.is_authenticated:
        services.sso_test_record(org=org, actor=request.user, report=report)
    return HttpResponseRedirect(state.get("next") or reverse("accounts:sso-test-result", args=[org.slug]))


def _first(attributes: dict, names: list[str]) -> str:
    for name in names:
        values = attributes.get(name) or []
        if values and str(values[0]).strip():
            return str(values[0]).strip()
    return ""


def groups_from(attributes: dict, config: SsoConfiguration) -> list[str]:
    """Every value of the first group attribute the IdP sent (a multi-valued attribute)."""
    for name in services.attribute_names(config.attribute_groups):
        values = attributes.get(name)
        if values:
            return [str(v).strip() for v in values if str(v).strip()]
    return []
