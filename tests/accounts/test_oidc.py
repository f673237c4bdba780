"""OpenID Connect per organization: configured on the SSO page, routed by e-mail domain, provisioned with the
same group → role mapping as SAML. The identity provider is a small local HTTP server speaking the
documented protocol (discovery document, token endpoint, userinfo, JWKS)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from jwt.algorithms import RSAAlgorithm

from accounts.models import AuditEntry, Membership, Role, SsoConfiguration, SsoProtocol
from accounts.sso import services

pytestmark = pytest.mark.django_db

CLIENT_ID = "convene-web"
CLIENT_SECRET = "oidc-client-secret-value"
DOMAIN = "acme-oidc.test"


class FakeIdp:
    """What an OpenID Connect provider answers; ``claims`` is the next person to sign in."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.claims: dict = {}
        self.token_requests: list[dict] = []
        self.codes: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def authorize(self, authorize_url: str) -> str:
        """The user signs in at the IdP: the code the IdP sends back to Convene with the state."""
        query = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
        code = f"code-{len(self.codes) + 1}"
        self.codes[code] = {"query": query, "claims": dict(self.claims)}
        return code

    def _id_token(self, claims: dict, nonce: str | None) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **claims}
        if nonce:
            payload["nonce"] = nonce
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "k1"})

    def _handler(self):
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    return self._json(
                        200,
                        {
                            "issuer": idp.issuer,
                            "authorization_endpoint": f"{idp.issuer}/authorize",
                            "token_endpoint": f"{idp.issuer}/token",
                            "userinfo_endpoint": f"{idp.issuer}/userinfo",
                            "jwks_uri": f"{idp.issuer}/jwks",
                            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                        },
                    )
                if self.path == "/jwks":
                    jwk = json.loads(RSAAlgorithm.to_jwk(idp.key.public_key()))
                    return self._json(200, {"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]})
                if self.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    grant = next((g for g in idp.codes.values() if g.get("access_token") == token), None)
                    if grant is None:
                        return self._json(401, {"error": "invalid_token"})
                    return self._json(200, grant["claims"])
                return self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                idp.token_requests.append(form)
                grant = idp.codes.get(form.get("code", ""))
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if (
                    self.path != "/token"
                    or grant is None
                    or "access_token" in grant
                    or form.get("client_id") != CLIENT_ID
                    or form.get("client_secret") != CLIENT_SECRET
                    or grant["query"].get("code_challenge") != challenge
                ):
                    return self._json(400, {"error": "invalid_grant"})
                grant["access_token"] = f"at-{form['code']}"
                return self._json(
                    200,
                    {
                        "access_token": grant["access_token"],
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": idp._id_token(grant["claims"], grant["query"].get("nonce")),
                    },
                )

        return Handler


@pytest.fixture
def idp():
    server = FakeIdp()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def oidc_org(org, idp):
    services.sso_configuration_update(
        org=org,
        actor=None,
        domains=[DOMAIN],
        protocol=SsoProtocol.OIDC,
        oidc_issuer=idp.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        role_map={"event-team": Role.ORGANIZER, "convene-owners": Role.OWNER},
        enabled=True,
    )
    return org


def sign_in(client: Client, idp: FakeIdp, email: str, **claims):
    """Continue with single sign-on → the IdP → back to Convene's callback. Returns the callback's response."""
    idp.claims = {"sub": f"sub-{email}", "email": email, "email_verified": True, **claims}
    start = client.post(reverse("accounts:sso-login"), {"email": email})
    assert start.status_code == 302, start.content
    authorize_url = start["Location"]
    assert authorize_url.startswith(f"{idp.issuer}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
    code = idp.authorize(authorize_url)
    callback = urlparse(query["redirect_uri"]).path
    return client.get(callback, {"code": code, "state": query["state"]})


def test_configuration_creates_the_organizations_openid_connect_app(oidc_org, idp):
    app = SocialApp.objects.get(provider="openid_connect")

    assert app.provider_id == f"oidc.{oidc_org.slug}"
    assert app.client_id == CLIENT_ID
    assert app.secret == CLIENT_SECRET
    assert app.settings["server_url"] == idp.issuer
    assert not SocialApp.objects.filter(provider="saml").exists()
    entry = AuditEntry.objects.for_org(oidc_org).get(action="accounts.sso.updated")
    assert entry.changes["oidc_client_secret"] == "changed"
    assert CLIENT_SECRET not in json.dumps(entry.changes)


def test_first_sign_in_creates_the_member_with_the_mapped_role(oidc_org, idp):
    client = Client()

    response = sign_in(client, idp, f"ada@{DOMAIN}", given_name="Ada", family_name="Lovelace", groups=["event-team", "unmapped"])

    assert response.status_code == 302
    membership = Membership.objects.get(organization=oidc_org, user__email=f"ada@{DOMAIN}")
    assert membership.role == Role.ORGANIZER
    assert membership.user.name == "Ada Lovelace"
    assert client.get(reverse("home")).wsgi_request.user == membership.user
    assert SocialAccount.objects.get(user=membership.user).provider == f"oidc.{oidc_org.slug}"
    assert idp.token_requests[0]["code_verifier"]  # PKCE
    login = AuditEntry.objects.for_org(oidc_org).get(action="accounts.login")
    assert login.changes["method"] == "sso"
    assert AuditEntry.objects.for_org(oidc_org).filter(action="accounts.sso.login").count() == 1


def test_later_sign_in_resyncs_the_role_from_the_groups(oidc_org, idp):
    sign_in(Client(), idp, f"ada@{DOMAIN}", groups=["event-team"])

    sign_in(Client(), idp, f"ada@{DOMAIN}", groups=["convene-owners"])

    assert Membership.objects.get(organization=oidc_org, user__email=f"ada@{DOMAIN}").role == Role.OWNER


def test_sign_in_without_a_mapped_group_is_refused_and_audited(oidc_org, idp):
    response = sign_in(Client(), idp, f"bob@{DOMAIN}", groups=["sales"])

    assert response.status_code == 403
    assert 'data-reason="no_role"' in response.content.decode()
    assert not Membership.objects.filter(organization=oidc_org, user__email=f"bob@{DOMAIN}").exists()
    assert AuditEntry.objects.for_org(oidc_org).filter(action="accounts.sso.login_refused").count() == 1


def test_an_email_outside_the_organizations_domains_is_refused(oidc_org, idp):
    client = Client()
    idp.claims = {"sub": "x", "email": "mallory@elsewhere.test", "groups": ["convene-owners"]}
    start = client.post(reverse("accounts:sso-login"), {"email": f"mallory@{DOMAIN}"})
    query = {k: v[0] for k, v in parse_qs(urlparse(start["Location"]).query).items()}
    code = idp.authorize(start["Location"])

    response = client.get(urlparse(query["redirect_uri"]).path, {"code": code, "state": query["state"]})

    assert response.status_code == 403
    assert 'data-reason="email_domain"' in response.content.decode()
    assert not Membership.objects.filter(organization=oidc_org, user__email="mallory@elsewhere.test").exists()


def test_switched_off_organization_refuses_the_sign_in(oidc_org, idp):
    client = Client()
    idp.claims = {"sub": "ada", "email": f"ada@{DOMAIN}", "groups": ["event-team"]}
    start = client.post(reverse("accounts:sso-login"), {"email": f"ada@{DOMAIN}"})
    SsoConfiguration.objects.filter(organization=oidc_org).update(enabled=False)
    query = {k: v[0] for k, v in parse_qs(urlparse(start["Location"]).query).items()}

    response = client.get(
        urlparse(query["redirect_uri"]).path, {"code": idp.authorize(start["Location"]), "state": query["state"]}
    )

    assert response.status_code == 403
    assert 'data-reason="disabled"' in response.content.decode()


def test_sso_owner_is_exempt_from_the_mfa_requirement(oidc_org, idp):
    oidc_org.require_mfa_for_admins = True
    oidc_org.save()
    client = Client()
    sign_in(client, idp, f"olga@{DOMAIN}", groups=["convene-owners"])

    response = client.get(reverse("events:dashboard", args=[oidc_org.slug]))

    assert response.status_code == 200


def test_settings_page_saves_openid_connect_and_never_shows_the_secret(org, member, idp):
    client = Client()
    client.force_login(member(Role.OWNER))
    url = reverse("accounts:sso-settings", args=[org.slug])
    data = {
        "protocol": "oidc",
        "oidc_issuer": idp.issuer + "/",
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "source": "metadata_url",
        "domains": DOMAIN,
        "attribute_email": "email",
        "attribute_groups": "groups",
        "role_map": "event-team=organizer",
        "default_role": "",
        "enabled": "on",
    }

    response = client.post(url, data)
    assert response.status_code == 302
    again = client.post(url, {**data, "oidc_client_secret": ""})  # empty: keep the stored secret
    assert again.status_code == 302

    config = SsoConfiguration.objects.get(organization=org)
    assert (config.protocol, config.oidc_issuer, config.oidc_client_secret) == ("oidc", idp.issuer, CLIENT_SECRET)
    page = client.get(url).content.decode()
    assert CLIENT_SECRET not in page
    assert f"/accounts/oidc/oidc.{org.slug}/login/callback/" in page
    assert SocialApp.objects.get(provider="openid_connect").secret == CLIENT_SECRET


def test_switching_back_to_saml_removes_the_openid_connect_app(oidc_org):
    services.sso_configuration_update(org=oidc_org, actor=None, protocol=SsoProtocol.SAML, enabled=False)

    assert not SocialApp.objects.filter(provider="openid_connect").exists()
