"""SAML responses built and signed here, as an identity provider (or an attacker) would, posted to the ACS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEntry, Membership, Role, User
from tests.sso_keys import idp
from tests.sso_keys.idp import SP_BASE, browser, build_response, configure, post_to_acs, start_login


@pytest.fixture
def client():
    return browser()


@pytest.fixture
def sso(org):
    configure(org)
    return org


def _refusal(org) -> AuditEntry:
    return AuditEntry.objects.for_org(org).get(action="accounts.sso.login_refused")


def test_valid_response_logs_in_and_creates_member(client, sso):
    request_id = start_login(client, "ann@acme.test")
    saml = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"])

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 302
    user = User.objects.get(email="ann@acme.test")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert Membership.objects.get(organization=sso, user=user).role == Role.ORGANIZER
    assert user.name == "Ann Lee"
    assert AuditEntry.objects.for_org(sso).filter(action="accounts.sso.login", actor=user).count() == 1


def test_response_signed_as_a_whole_is_accepted(client, sso):
    request_id = start_login(client, "ann@acme.test")
    saml = build_response(
        sp_base=SP_BASE, slug=sso.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"], signed="response"
    )

    post_to_acs(client, sso.slug, saml)

    assert client.session.get("_auth_user_id") == str(User.objects.get(email="ann@acme.test").pk)


def _now() -> datetime:
    return datetime.now(UTC)


ATTACKS = {
    "unsigned": ({"signed": "none"}, "signature"),
    "wrong key": ({"key": idp.OTHER_KEY, "cert": idp.OTHER_CERT}, "signature"),
    "wrong audience": ({"audience": "https://evil.example/sp"}, "audience"),
    "wrong destination": ({"destination": "https://evil.example/acs"}, "destination"),
    "expired": ({"not_before": _now() - timedelta(hours=2), "not_on_or_after": _now() - timedelta(hours=1)}, "expired"),
    "not yet valid": (
        {"not_before": _now() + timedelta(hours=1), "not_on_or_after": _now() + timedelta(hours=2)},
        "not_yet_valid",
    ),
    "wrong issuer": ({"issuer": "https://evil.example/idp"}, "issuer"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_or_misdirected_response_is_refused(client, sso, attack):
    overrides, reason = ATTACKS[attack]
    request_id = start_login(client, "ann@acme.test")
    saml = build_response(
        sp_base=SP_BASE, slug=sso.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"], **overrides
    )

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 403
    assert b'data-testid="sso-refused"' in response.content
    assert f'data-reason="{reason}"'.encode() in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email="ann@acme.test").exists()
    assert _refusal(sso).changes["reason"] == reason


def test_replayed_assertion_is_refused(client, sso):
    first_request = start_login(client, "ann@acme.test")
    saml = build_response(
        sp_base=SP_BASE,
        slug=sso.slug,
        in_response_to=first_request,
        email="ann@acme.test",
        groups=["staff"],
        assertion_id="_once",
    )
    assert post_to_acs(client, sso.slug, saml).status_code == 302
    client.logout()

    # the same assertion (same ID), even answering a new sign-in of this browser
    second_request = start_login(client, "ann@acme.test")
    replay = build_response(
        sp_base=SP_BASE,
        slug=sso.slug,
        in_response_to=second_request,
        email="ann@acme.test",
        groups=["staff"],
        assertion_id="_once",
    )
    response = post_to_acs(client, sso.slug, replay)

    assert response.status_code == 403
    assert b'data-reason="replayed"' in response.content
    assert "_auth_user_id" not in client.session
    assert _refusal(sso).changes["reason"] == "replayed"


def test_same_response_posted_twice_is_refused(client, sso):
    request_id = start_login(client, "ann@acme.test")
    saml = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"])
    post_to_acs(client, sso.slug, saml)
    client.logout()

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 403
    assert b'data-reason="replayed"' in response.content


def test_response_to_another_request_is_refused(client, sso):
    start_login(client, "ann@acme.test")
    saml = build_response(
        sp_base=SP_BASE, slug=sso.slug, in_response_to="_not_a_request_of_ours", email="ann@acme.test", groups=["staff"]
    )

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 403
    assert b'data-reason="in_response_to"' in response.content
    assert "_auth_user_id" not in client.session
    assert _refusal(sso).changes["reason"] == "in_response_to"


def test_response_to_a_request_of_another_browser_is_refused(client, sso):
    victim_request = start_login(browser(), "ann@acme.test")
    start_login(client, "ann@acme.test")
    saml = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=victim_request, email="ann@acme.test", groups=["staff"])

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 403
    assert b'data-reason="in_response_to"' in response.content


@pytest.mark.parametrize("wrap", [idp.wrap_signature, idp.wrap_signature_nested], ids=["sibling", "nested"])
def test_signature_wrapping_is_refused(client, sso, wrap):
    request_id = start_login(client, "ann@acme.test")
    genuine = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"])

    response = post_to_acs(client, sso.slug, wrap(genuine, evil_email="boss@acme.test"))

    assert response.status_code == 403
    assert b'data-testid="sso-refused"' in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email__in=["ann@acme.test", "boss@acme.test"]).exists()
    assert _refusal(sso).changes["reason"] in {"tampered", "signature"}


def test_idp_initiated_response_is_refused_unless_switched_on(client, sso):
    saml = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=None, email="ann@acme.test", groups=["staff"])

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 403
    assert b'data-reason="idp_initiated"' in response.content
    assert _refusal(sso).changes["reason"] == "idp_initiated"


def test_idp_initiated_response_logs_in_when_switched_on(client, sso):
    configure(sso, allow_idp_initiated=True)
    saml = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=None, email="ann@acme.test", groups=["staff"])

    response = post_to_acs(client, sso.slug, saml)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(email="ann@acme.test").pk)


def test_response_for_another_organization_is_refused(client, sso, other_org):
    """An assertion for organization A posted to organization B's ACS: B's audience is not A's."""
    configure(other_org, domains=("globex.test",))
    request_id = start_login(client, "ann@acme.test")
    saml = build_response(sp_base=SP_BASE, slug=sso.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"])

    response = post_to_acs(client, other_org.slug, saml)

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.for_org(other_org).get(action="accounts.sso.login_refused").changes["reason"] in {
        "audience",
        "destination",
    }
