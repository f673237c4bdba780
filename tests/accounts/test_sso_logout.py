"""SAML single logout both ways, with logout messages built and signed here as the IdP (or an attacker) would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEntry, Role, SsoSource, User
from accounts.sso import services
from tests.factories import PASSWORD, make_member, make_org
from tests.sso_keys import idp
from tests.sso_keys.idp import SP_BASE, browser, build_response, configure, post_to_acs, start_login
from tests.sso_keys.slo import (
    SUCCESS,
    logout_request_xml,
    logout_response_xml,
    redirect_message,
    redirect_query,
    sls_url,
    status_of,
)

EMAIL = "ann@acme.test"


@pytest.fixture
def sso(org):
    configure(org)
    return org


def _now() -> datetime:
    return datetime.now(UTC)


def _signed_in(org, email: str = EMAIL):
    """A browser signed in through the organization's IdP."""
    client = browser()
    request_id = start_login(client, email)
    post_to_acs(
        client, org.slug, build_response(sp_base=SP_BASE, slug=org.slug, in_response_to=request_id, email=email, groups=["staff"])
    )
    assert client.session.get("_auth_user_id") == str(User.objects.get(email=email).pk)
    return client


def _logged_in(client) -> bool:
    return bool(client.session.get("_auth_user_id"))


def _logout_at_convene(client):
    """Log out in Convene; returns the LogoutRequest sent to the IdP and the redirect."""
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"].startswith(idp.IDP_SLO_URL + "?SAMLRequest="), response["Location"]
    return redirect_message(response["Location"], "SAMLRequest"), response


def _idp_logout_request(client, org, *, name_id: str = EMAIL, key: str | None = idp.IDP_KEY, **kwargs):
    xml = logout_request_xml(destination=sls_url(SP_BASE, org.slug), name_id=name_id, now=_now(), **kwargs)
    return client.get(f"/accounts/saml/{org.slug}/sls/?{redirect_query('SAMLRequest', xml, relay_state='idp-state', key=key)}")


# --- logging out in Convene (SP-initiated) ------------------------------------------------------------


def test_logout_after_sso_sends_a_logout_request_to_the_idp(sso):
    client = _signed_in(sso)

    message, _ = _logout_at_convene(client)

    assert not _logged_in(client)
    assert message.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}LogoutRequest"
    assert message.find("saml:NameID", idp.NS).text == EMAIL
    assert message.find("samlp:SessionIndex", idp.NS).text.startswith("_session_")
    assert message.get("Destination") == idp.IDP_SLO_URL
    entry = AuditEntry.objects.for_org(sso).get(action="accounts.sso.logout")
    assert entry.changes["initiated_by"] == "sp"
    assert entry.actor == User.objects.get(email=EMAIL)


def test_idp_confirmation_of_the_logout_lands_on_the_login_page(sso):
    client = _signed_in(sso)
    message, _ = _logout_at_convene(client)
    xml = logout_response_xml(destination=sls_url(SP_BASE, sso.slug), in_response_to=message.get("ID"), now=_now())

    response = client.get(f"/accounts/saml/{sso.slug}/sls/?{redirect_query('SAMLResponse', xml)}", follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/", 302)
    page = response.content.decode()
    assert "You have signed out." in page
    assert f"Your {sso.name} single sign-on session has ended too." in page
    assert not AuditEntry.objects.for_org(sso).filter(action="accounts.sso.logout_refused").exists()


@pytest.mark.parametrize(
    ("change", "signed"),
    [("in_response_to", True), ("issuer", True), ("unsigned", False), ("wrong_key", True)],
    ids=["other-request", "other-issuer", "unsigned", "wrong-key"],
)
def test_a_logout_answer_that_cannot_be_trusted_is_refused(sso, change, signed):
    client = _signed_in(sso)
    message, _ = _logout_at_convene(client)
    xml = logout_response_xml(
        destination=sls_url(SP_BASE, sso.slug),
        in_response_to="_someone_elses" if change == "in_response_to" else message.get("ID"),
        issuer="https://evil.example.test/saml" if change == "issuer" else idp.IDP_ENTITY_ID,
        now=_now(),
    )
    key = idp.OTHER_KEY if change == "wrong_key" else idp.IDP_KEY
    query = redirect_query("SAMLResponse", xml, key=key if signed else None)

    response = client.get(f"/accounts/saml/{sso.slug}/sls/?{query}")

    assert response.status_code == 400
    assert 'data-testid="sso-logout-failed"' in response.content.decode()
    assert "could not be verified" in response.content.decode()
    assert AuditEntry.objects.for_org(sso).get(action="accounts.sso.logout_refused").changes["kind"] == "response"
    assert not _logged_in(client)


def test_a_logout_answer_nobody_asked_for_is_refused(sso):
    client = browser()
    xml = logout_response_xml(destination=sls_url(SP_BASE, sso.slug), in_response_to="_never_sent", now=_now())

    response = client.get(f"/accounts/saml/{sso.slug}/sls/?{redirect_query('SAMLResponse', xml)}")

    assert response.status_code == 400
    assert AuditEntry.objects.for_org(sso).filter(action="accounts.sso.logout_refused").exists()


def test_password_users_log_out_without_the_idp(sso):
    user = make_member(sso, Role.ORGANIZER, email="pat@elsewhere.test")
    client = browser()
    client.login(email=user.email, password=PASSWORD)

    response = client.post("/accounts/logout/")

    assert response["Location"] == "/accounts/login/"
    assert not _logged_in(client)
    assert not AuditEntry.objects.for_org(sso).filter(action="accounts.sso.logout").exists()


def test_without_an_idp_logout_url_the_logout_stays_local(org):
    configure(org)
    services.sso_configuration_update(
        org=org,
        actor=None,
        idp=services.IdpInput(
            source=SsoSource.MANUAL, entity_id=idp.IDP_ENTITY_ID, sso_url=idp.IDP_SSO_URL, certificate=idp.IDP_CERT
        ),
    )
    client = _signed_in(org)

    response = client.post("/accounts/logout/")

    assert response["Location"] == "/accounts/login/"
    assert not _logged_in(client)


# --- the IdP logs the user out (IdP-initiated) --------------------------------------------------------


def test_idp_logout_request_ends_the_session_and_answers_the_idp(sso):
    client = _signed_in(sso)
    request_id = "_idp_logout_1"

    response = _idp_logout_request(client, sso, request_id=request_id)

    assert response.status_code == 302
    assert response["Location"].startswith(idp.IDP_SLO_URL + "?SAMLResponse=")
    assert "RelayState=idp-state" in response["Location"]
    answer = redirect_message(response["Location"], "SAMLResponse")
    assert answer.get("InResponseTo") == request_id
    assert status_of(answer) == SUCCESS
    assert not _logged_in(client)
    assert client.get(f"/o/{sso.slug}/").status_code == 302  # back to the login page
    entry = AuditEntry.objects.for_org(sso).get(action="accounts.sso.logout")
    assert entry.changes == {"initiated_by": "idp", "name_id": EMAIL, "sessions_ended": 1}
    assert entry.actor == User.objects.get(email=EMAIL)


def test_idp_logout_request_ends_the_users_sessions_in_other_browsers(sso):
    laptop = _signed_in(sso)
    phone = _signed_in(sso)
    colleague = _signed_in(sso, email="bob@acme.test")

    response = _idp_logout_request(browser(), sso, session_index=None)

    assert response.status_code == 302
    assert not _logged_in(laptop)
    assert not _logged_in(phone)
    assert _logged_in(colleague)
    assert AuditEntry.objects.for_org(sso).get(action="accounts.sso.logout").changes["sessions_ended"] == 2


def test_idp_logout_request_with_a_session_index_ends_only_that_session(sso):
    laptop = _signed_in(sso)
    phone = _signed_in(sso)
    phone_index = phone.session["sso_saml"]["session_index"]

    _idp_logout_request(browser(), sso, session_index=phone_index)

    assert _logged_in(laptop)
    assert not _logged_in(phone)


def test_idp_logout_request_for_someone_else_keeps_this_browser_signed_in(sso):
    client = _signed_in(sso)

    response = _idp_logout_request(client, sso, name_id="bob@acme.test")

    assert response.status_code == 302  # the IdP is answered: that person has no session here
    assert _logged_in(client)
    assert AuditEntry.objects.for_org(sso).get(action="accounts.sso.logout").changes["sessions_ended"] == 0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({}, None),
        ({}, idp.OTHER_KEY),
        ({"issuer": "https://evil.example.test/saml"}, idp.IDP_KEY),
        ({"not_on_or_after": datetime.now(UTC) - timedelta(minutes=5)}, idp.IDP_KEY),
    ],
    ids=["unsigned", "wrong-key", "other-issuer", "expired"],
)
def test_an_untrusted_logout_request_changes_nothing(sso, kwargs, key):
    client = _signed_in(sso)

    response = _idp_logout_request(client, sso, key=key, **kwargs)

    assert response.status_code == 400
    assert "nothing was changed" in response.content.decode()
    assert _logged_in(client)
    assert AuditEntry.objects.for_org(sso).get(action="accounts.sso.logout_refused").changes["kind"] == "request"
    assert not AuditEntry.objects.for_org(sso).filter(action="accounts.sso.logout").exists()


def test_another_organizations_idp_cannot_end_this_organizations_sessions(sso):
    other = make_org("Other")
    configure(other, domains=("other.test",))
    client = _signed_in(sso)

    response = _idp_logout_request(client, other)  # the same NameID, through the other organization's IdP

    assert response.status_code == 302
    assert _logged_in(client)
    assert AuditEntry.objects.for_org(other).get(action="accounts.sso.logout").changes["sessions_ended"] == 0


def test_sls_of_an_organization_without_sso_is_404(org):
    assert browser().get(f"/accounts/saml/{org.slug}/sls/?SAMLRequest=x").status_code == 404
