"""Single sign-on: configuration (service, page, command), routing from the login page, password refusal,
provisioning of members, the owners' test sign-in and the SP metadata."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.management import CommandError, call_command
from lxml import etree
from onelogin.saml2 import __file__ as onelogin_init

from accounts.models import AuditEntry, Membership, Role, SsoConfiguration, SsoDomain, SsoSource, User
from accounts.sso import services
from accounts.sso.errors import SsoDomainTaken, SsoInvalid
from tests.factories import PASSWORD, make_member, make_org, make_user
from tests.sso_keys import idp
from tests.sso_keys.idp import SP_BASE, browser, build_response, configure, post_to_acs, start_login

METADATA_XSD = Path(onelogin_init).parent / "schemas" / "saml-schema-metadata-2.0.xsd"


@pytest.fixture
def client():
    return browser()


def _owner_client(org):
    c = browser()
    c.force_login(make_member(org, Role.OWNER))
    return c


def _sign_in(client, org, email: str, groups: list[str] | None):
    request_id = start_login(client, email)
    return post_to_acs(
        client, org.slug, build_response(sp_base=SP_BASE, slug=org.slug, in_response_to=request_id, email=email, groups=groups)
    )


def _logged_in_as(client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


# --- configuration service ----------------------------------------------------------------------------


@pytest.fixture
def metadata_server():
    """A local HTTP server publishing the test IdP's metadata (the IdP's side of the HTTP boundary)."""
    body = idp.idp_metadata_xml().encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/metadata" else 404)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.end_headers()
            if self.path == "/metadata":
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_configure_from_metadata_url_reads_idp_and_syncs_app(org, metadata_server):
    config = services.sso_configuration_update(
        org=org,
        actor=None,
        idp=services.IdpInput(source=SsoSource.METADATA_URL, metadata_url=f"{metadata_server}/metadata"),
        domains=["Acme.test"],
    )

    assert (config.idp_entity_id, config.sso_url) == (idp.IDP_ENTITY_ID, idp.IDP_SSO_URL)
    assert config.metadata_url == f"{metadata_server}/metadata"
    app = SocialApp.objects.get(provider="saml", provider_id=org.slug)
    assert app.client_id == org.slug
    assert app.settings["idp"]["entity_id"] == idp.IDP_ENTITY_ID
    assert app.settings["idp"]["x509cert"] == config.x509_certificate
    assert list(SsoDomain.objects.for_org(org).values_list("domain", flat=True)) == ["acme.test"]


def test_configure_from_missing_metadata_url_says_so(org, metadata_server):
    with pytest.raises(Exception) as exc:
        services.sso_configuration_update(
            org=org, actor=None, idp=services.IdpInput(source=SsoSource.METADATA_URL, metadata_url=f"{metadata_server}/nothing")
        )
    assert exc.value.field == "metadata_url"
    assert not SsoConfiguration.objects.filter(organization=org).exists()


def test_configure_from_pasted_metadata_xml(org):
    config = services.sso_configuration_update(
        org=org, actor=None, idp=services.IdpInput(source=SsoSource.METADATA_XML, metadata_xml=idp.idp_metadata_xml())
    )

    assert config.source == SsoSource.METADATA_XML
    assert config.slo_url == idp.IDP_SLO_URL
    assert config.is_complete


@pytest.mark.parametrize(
    ("idp_input", "field"),
    [
        (services.IdpInput(source=SsoSource.METADATA_XML, metadata_xml="<not-metadata/>"), "metadata_xml"),
        (
            services.IdpInput(source=SsoSource.MANUAL, entity_id="x", sso_url="https://idp.test/sso", certificate="garbage"),
            "certificate",
        ),
        (
            services.IdpInput(source=SsoSource.MANUAL, entity_id="x", sso_url="ftp://idp.test/sso", certificate=idp.IDP_CERT),
            "sso_url",
        ),
        (
            services.IdpInput(source=SsoSource.MANUAL, entity_id="", sso_url="https://idp.test/sso", certificate=idp.IDP_CERT),
            "entity_id",
        ),
    ],
    ids=["bad-xml", "bad-certificate", "bad-url", "no-entity-id"],
)
def test_configure_refuses_unusable_idp(org, idp_input, field):
    with pytest.raises(SsoInvalid) as exc:
        services.sso_configuration_update(org=org, actor=None, idp=idp_input)
    assert exc.value.field == field


def test_plain_http_idp_urls_are_refused_unless_allowed(org, settings):
    settings.SSO_ALLOW_HTTP = False
    with pytest.raises(SsoInvalid) as exc:
        services.sso_configuration_update(
            org=org,
            actor=None,
            idp=services.IdpInput(
                source=SsoSource.MANUAL, entity_id="x", sso_url="http://idp.test/sso", certificate=idp.IDP_CERT
            ),
        )
    assert exc.value.field == "sso_url"


def test_a_domain_belongs_to_one_organization(org):
    configure(org, domains=("acme.test",))
    other = make_org("Other")
    with pytest.raises(SsoDomainTaken):
        configure(other, domains=("acme.test",))


def test_public_mailbox_domains_cannot_be_claimed(org):
    with pytest.raises(SsoInvalid) as exc:
        configure(org, domains=("gmail.com",))
    assert exc.value.field == "domains"


def test_enabling_needs_a_domain(org):
    with pytest.raises(SsoInvalid) as exc:
        configure(org, domains=(), enabled=True)
    assert exc.value.field == "enabled"


def test_every_change_is_audited_without_the_certificate(org):
    configure(org)
    configure(org, require_sso=True, domains=("acme.test", "acme-corp.test"))

    first, second = AuditEntry.objects.for_org(org).filter(action="accounts.sso.updated").order_by("created_at", "id")
    assert first.changes["x509_certificate"] == "changed"
    assert "BEGIN CERTIFICATE" not in str(first.changes)
    assert "MII" not in str(first.changes)
    assert second.changes == {"require_sso": [False, True], "domains": [["acme.test"], ["acme-corp.test", "acme.test"]]}


# --- settings page ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [(Role.OWNER, 200), (Role.ADMIN, 200), (Role.ORGANIZER, 403), (Role.DEVELOPER, 403)])
def test_settings_page_is_for_owners_and_admins(org, role, status):
    c = browser()
    c.force_login(make_member(org, role))
    assert c.get(f"/o/{org.slug}/sso/").status_code == status


def test_settings_page_of_another_organization_is_404(org, other_org):
    assert _owner_client(org).get(f"/o/{other_org.slug}/sso/").status_code == 404


def test_settings_page_saves_manual_idp_domains_and_mapping(org):
    c = _owner_client(org)
    response = c.post(
        f"/o/{org.slug}/sso/",
        {
            "source": "manual",
            "entity_id": idp.IDP_ENTITY_ID,
            "sso_url": idp.IDP_SSO_URL,
            "certificate": idp.IDP_CERT,
            "domains": "acme.test\nacme-corp.test",
            "attribute_email": "email",
            "attribute_groups": "groups",
            "role_map": "staff=organizer\nadmins=admin",
            "default_role": "",
            "enabled": "on",
            "require_sso": "on",
        },
    )

    assert response.status_code == 302
    config = SsoConfiguration.objects.get(organization=org)
    assert config.enabled and config.require_sso and not config.allow_idp_initiated
    assert config.role_map == {"staff": "organizer", "admins": "admin"}
    page = c.get(f"/o/{org.slug}/sso/").content.decode()
    assert idp.IDP_ENTITY_ID in page
    assert f"http://testserver/accounts/saml/{org.slug}/metadata/" in page
    assert 'data-testid="sp-metadata"' in page


def test_settings_page_shows_errors_beside_fields(org):
    c = _owner_client(org)
    response = c.post(
        f"/o/{org.slug}/sso/",
        {
            "source": "manual",
            "entity_id": "x",
            "sso_url": idp.IDP_SSO_URL,
            "certificate": "nope",
            "attribute_email": "email",
            "role_map": "staff=boss",
        },
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="field-certificate"' in html
    assert "This is not an X.509 certificate" in html
    assert not SsoConfiguration.objects.filter(organization=org).exists()


# --- command ------------------------------------------------------------------------------------------


def test_configure_saml_command_from_metadata_file(org, tmp_path):
    path = tmp_path / "idp.xml"
    path.write_text(idp.idp_metadata_xml())

    call_command(
        "configure_saml", "--org", org.slug, "--metadata-file", str(path), "--domain", "acme.test", "--domain", "acme-corp.test",
        "--role-attribute", "memberOf", "--role-map", "staff=organizer,admins=admin",
    )  # fmt: skip

    config = SsoConfiguration.objects.get(organization=org)
    assert config.enabled
    assert config.attribute_groups == "memberOf"
    assert config.role_map == {"staff": "organizer", "admins": "admin"}
    assert services.sso_domains(org) == ["acme-corp.test", "acme.test"]
    assert SocialApp.objects.filter(provider="saml", provider_id=org.slug).exists()


def test_configure_saml_command_from_metadata_url(org, metadata_server):
    call_command("configure_saml", "--org", org.slug, "--metadata-url", f"{metadata_server}/metadata", "--domain", "acme.test")
    assert SsoConfiguration.objects.get(organization=org).idp_entity_id == idp.IDP_ENTITY_ID


def test_configure_saml_command_reports_bad_role(org, tmp_path):
    path = tmp_path / "idp.xml"
    path.write_text(idp.idp_metadata_xml())
    with pytest.raises(CommandError, match="is not a role"):
        call_command(
            "configure_saml", "--org", org.slug, "--metadata-file", str(path), "--domain", "acme.test", "--role-map", "staff=boss"
        )


# --- login page ---------------------------------------------------------------------------------------


def test_login_page_offers_sso(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'data-testid="sso-login-form"' in html
    assert "Continue with single sign-on" in html


def test_sso_login_routes_by_domain_to_the_organizations_idp(client, org):
    configure(org)
    response = client.post("/login/sso/", {"email": "Ann@ACME.test"})
    assert response.status_code == 302
    assert response["Location"].startswith(idp.IDP_SSO_URL + "?SAMLRequest=")


def test_sso_login_with_unknown_domain_says_so(client, org):
    configure(org)
    response = client.post("/login/sso/", {"email": "ann@elsewhere.test"})
    assert response.status_code == 200
    assert "No organization signs in elsewhere.test addresses through single sign-on" in response.content.decode()


def test_sso_login_of_a_switched_off_organization_is_not_routed(client, org):
    configure(org, enabled=False)
    response = client.post("/login/sso/", {"email": "ann@acme.test"})
    assert response.status_code == 200


def test_password_login_is_refused_when_sso_is_required(client, org):
    configure(org, require_sso=True)
    make_user("ann@acme.test")

    response = client.post("/accounts/login/", {"login": "ann@acme.test", "password": PASSWORD})

    assert response.status_code == 200
    assert "signs you in through its identity provider" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.for_org(org).filter(action="accounts.sso.password_login_refused").count() == 1


def test_password_login_still_works_when_sso_is_optional(client, org):
    configure(org, require_sso=False)
    make_user("ann@acme.test")
    client.post("/accounts/login/", {"login": "ann@acme.test", "password": PASSWORD})
    assert _logged_in_as(client).email == "ann@acme.test"


# --- provisioning -------------------------------------------------------------------------------------


def test_later_sign_ins_resync_the_role(client, org):
    configure(org)
    _sign_in(client, org, "ann@acme.test", ["staff"])
    client.logout()

    _sign_in(client, org, "ann@acme.test", ["staff", "admins"])

    user = User.objects.get(email="ann@acme.test")
    assert Membership.objects.get(organization=org, user=user).role == Role.ADMIN
    assert AuditEntry.objects.for_org(org).filter(action="accounts.membership.role_changed").count() == 1


def test_leaving_every_mapped_group_removes_the_membership(client, org):
    configure(org)
    make_member(org, Role.OWNER)  # someone else stays owner
    _sign_in(client, org, "ann@acme.test", ["staff"])
    client.logout()

    response = _sign_in(client, org, "ann@acme.test", ["marketing"])

    assert response.status_code == 403
    assert b'data-reason="no_role"' in response.content
    assert not Membership.objects.filter(organization=org, user__email="ann@acme.test").exists()
    assert AuditEntry.objects.for_org(org).filter(action="accounts.sso.membership_removed").count() == 1
    assert _logged_in_as(client) is None


def test_first_sign_in_without_mapped_group_is_refused(client, org):
    configure(org)
    response = _sign_in(client, org, "ann@acme.test", ["marketing"])
    assert response.status_code == 403
    assert b'data-reason="no_role"' in response.content
    assert not User.objects.filter(email="ann@acme.test").exists()


def test_default_role_admits_people_in_no_mapped_group(client, org):
    configure(org, default_role=Role.VIEWER)
    _sign_in(client, org, "ann@acme.test", [])
    assert Membership.objects.get(organization=org, user__email="ann@acme.test").role == Role.VIEWER


def test_email_outside_the_organizations_domains_is_refused(client, org):
    configure(org, allow_idp_initiated=True)
    saml = build_response(sp_base=SP_BASE, slug=org.slug, in_response_to=None, email="ann@elsewhere.test", groups=["staff"])

    response = post_to_acs(client, org.slug, saml)

    assert response.status_code == 403
    assert b'data-reason="email_domain"' in response.content


def test_existing_account_in_the_domain_is_linked(client, org):
    configure(org)
    ann = make_user("ann@acme.test")

    _sign_in(client, org, "ann@acme.test", ["staff"])

    assert _logged_in_as(client) == ann
    assert Membership.objects.get(organization=org, user=ann).role == Role.ORGANIZER
    assert AuditEntry.objects.for_org(org).filter(action="accounts.sso.account_linked").count() == 1


def test_existing_account_belonging_to_another_organization_is_not_taken_over(client, org):
    """An organization's IdP asserting the address of another organization's member must not log in as them."""
    configure(org)
    elsewhere = make_org("Elsewhere")
    ann = make_member(elsewhere, Role.OWNER, email="ann@acme.test")

    response = _sign_in(client, org, "ann@acme.test", ["staff"])

    assert response.status_code == 403
    assert b'data-reason="link_refused"' in response.content
    assert _logged_in_as(client) is None
    assert not Membership.objects.filter(organization=org, user=ann).exists()


def test_switched_off_sso_refuses_sign_in(client, org):
    configure(org)
    request_id = start_login(client, "ann@acme.test")
    configure(org, enabled=False)

    response = post_to_acs(
        client,
        org.slug,
        build_response(sp_base=SP_BASE, slug=org.slug, in_response_to=request_id, email="ann@acme.test", groups=["staff"]),
    )

    assert response.status_code == 403
    assert b'data-reason="disabled"' in response.content


# --- test sign-in -------------------------------------------------------------------------------------


def test_test_sign_in_reports_what_the_idp_sent_without_logging_in(org):
    configure(org, enabled=False)
    owner = make_member(org, Role.OWNER)
    c = browser()
    c.force_login(owner)

    start = c.post(f"/o/{org.slug}/sso/test/")
    assert start.status_code == 302
    request_id = idp.authn_request_id(start["Location"])
    saml = build_response(
        sp_base=SP_BASE, slug=org.slug, in_response_to=request_id, email="bob@acme.test", groups=["admins", "x"]
    )
    result = post_to_acs(c, org.slug, saml)

    assert result.status_code == 302
    page = c.get(result["Location"])
    html = page.content.decode()
    assert 'data-testid="sso-test-ok"' in html
    assert "bob@acme.test" in html
    assert "admins" in html
    assert _logged_in_as(c) == owner
    assert not User.objects.filter(email="bob@acme.test").exists()
    assert AuditEntry.objects.for_org(org).filter(action="accounts.sso.test_sign_in").count() == 1


# --- SP metadata --------------------------------------------------------------------------------------


def test_sp_metadata_of_every_organization_validates_against_the_schema(client, org):
    configure(org)
    other = make_org("Other")
    configure(other, domains=("other.test",))
    schema = etree.XMLSchema(etree.parse(str(METADATA_XSD)))

    for o in (org, other):
        response = client.get(f"/accounts/saml/{o.slug}/metadata/")
        assert response.status_code == 200
        doc = etree.fromstring(response.content)
        schema.assertValid(doc)
        assert doc.get("entityID") == f"http://testserver/accounts/saml/{o.slug}/metadata/"


def test_no_sp_metadata_without_a_configured_idp(client, org):
    assert client.get(f"/accounts/saml/{org.slug}/metadata/").status_code == 404
