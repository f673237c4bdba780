"""Single sign-on in a real browser: chromium signs in at a SAML identity provider running locally (pysaml2),
comes back to Convene as a member with the mapped role, and logs out of both."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from accounts.models import AuditEntry, Membership, Organization, Role, SsoSource, User
from accounts.sso import services
from tests.sso_idp.idp import IdpUser, LocalIdp

IDP_PASSWORD = "idp-test-password"


@pytest.fixture
def local_idp():
    idp = LocalIdp([IdpUser("ann@acme.test", IDP_PASSWORD, first_name="Ann", last_name="Lee", groups=["staff", "everyone"])])
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def acme(transactional_db, live_server, local_idp):
    """Acme signs its acme.test people in through the local IdP, configured from the IdP's metadata URL."""
    org = Organization.objects.create(name="Acme Events", slug="acme")
    services.sso_configuration_update(
        org=org,
        actor=None,
        idp=services.IdpInput(source=SsoSource.METADATA_URL, metadata_url=f"{local_idp.base_url}/metadata"),
        domains=["acme.test"],
        attribute_groups="groups",
        role_map={"staff": Role.ORGANIZER, "admins": Role.ADMIN},
        enabled=True,
    )
    # the IdP's administrator registers Convene from its SP metadata
    with urllib.request.urlopen(f"{live_server.url}/accounts/saml/{org.slug}/metadata/", timeout=10) as response:  # noqa: S310 (local)
        local_idp.trust_sp(response.read().decode())
    return org


def test_sign_in_through_the_organizations_idp_and_log_out_of_both(page: Page, live_server, local_idp, acme, shots):
    base = live_server.url
    page.set_default_timeout(15_000)

    # The login page: "Continue with single sign-on" with the work e-mail.
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Work e-mail").fill("ann@acme.test")
    shots(page, "login")
    page.get_by_role("button", name="Continue with single sign-on").click()

    # At the identity provider's own sign-in form.
    expect(page).to_have_url(re.compile(rf"^{re.escape(local_idp.base_url)}/sso\?SAMLRequest="))
    expect(page.get_by_text(f"{base}/accounts/saml/acme/metadata/")).to_be_visible()
    page.get_by_label("Username").fill("ann@acme.test")
    page.get_by_label("Password").fill(IDP_PASSWORD)
    shots(page, "idp-form")
    page.get_by_role("button", name="Sign in at the IdP").click()

    # The signed assertion is posted back to Convene: Ann lands on Acme's dashboard, logged in.
    expect(page).to_have_url(f"{base}/o/acme/")
    expect(page.get_by_text("ann@acme.test")).to_be_visible()
    shots(page, "dashboard")
    user = User.objects.get(email="ann@acme.test")
    assert user.name == "Ann Lee"
    assert Membership.objects.get(organization=acme, user=user).role == Role.ORGANIZER
    assert local_idp.logins == ["ann@acme.test"]
    assert AuditEntry.objects.for_org(acme).filter(action="accounts.sso.login", actor=user).count() == 1

    # Logging out of Convene logs out at the IdP too, and the IdP's signed answer is accepted.
    page.get_by_text("ann@acme.test").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/accounts/login/")
    expect(page.get_by_text("Your Acme Events single sign-on session has ended too.")).to_be_visible()
    shots(page, "logged-out")
    assert local_idp.logouts == ["ann@acme.test"]
    assert not AuditEntry.objects.for_org(acme).filter(action="accounts.sso.logout_refused").exists()

    # Signed out for real: the dashboard asks for a login again.
    page.goto(f"{base}/o/acme/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
