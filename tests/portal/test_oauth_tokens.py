"""OAuth access tokens at the API: client credentials, JWT claims and JWKS, scopes, expiry, tampering,
revocation, introspection and the command that makes a client."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import jwt
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from accounts.models import API_SCOPES, App
from portal.models import OAuthClient
from portal.oauth.tokens import access_token_generate, api_audience, issuer, token_checksum
from tests.factories import make_event, make_org
from tests.portal.oauth_helpers import (
    basic,
    bearer,
    client_credentials_token,
    fresh_caches,  # noqa: F401 (autouse fixture)
    make_client,
    token_request,
)

pytestmark = pytest.mark.django_db


def api_get(path: str, token: str):
    return Client().get(path, headers=bearer(token))


def test_client_credentials_token_reads_the_organizations_events_only(org, other_org):
    mine = make_event(org, title="Our conference")
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)

    response = api_get("/api/v1/events", token)

    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()["data"]] == [mine.pk]
    other_event = other_org.events.first()
    assert api_get(f"/api/v1/events/{other_event.pk}", token).status_code == 404


def test_token_response_is_a_bearer_jwt_of_one_hour_without_refresh_token(org):
    client, secret = make_client(org, scopes=("events:read", "registrations:read"))

    answer = token_request(client.application.client_id, secret, grant_type="client_credentials")

    assert answer["status"] == 200
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    assert answer["scope"] == "events:read registrations:read"  # no scope asked: all the client's scopes
    assert "refresh_token" not in answer


def test_access_token_is_an_rfc9068_jwt_verified_with_the_published_jwks(org):
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)
    jwks = Client().get("/oauth/jwks.json").json()

    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(token, key.key, algorithms=[header["alg"]], audience=api_audience(), issuer=issuer())

    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert claims["client_id"] == claims["sub"] == client.application.client_id
    assert claims["scope"] == "events:read"
    assert claims["org"] == org.pk
    assert claims["exp"] - claims["iat"] == 3600
    assert len(claims["jti"]) >= 16
    assert get_access_token_model().objects.get(token_checksum=token_checksum(token)).token == ""  # only a hash is stored


def test_token_without_the_scope_is_refused_with_insufficient_scope(org):
    client, secret = make_client(org, scopes=("registrations:read",))
    token = client_credentials_token(client, secret)

    response = api_get("/api/v1/events", token)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


def test_client_cannot_ask_for_a_scope_it_was_not_given(org):
    client, secret = make_client(org, scopes=("events:read",))

    answer = token_request(client.application.client_id, secret, grant_type="client_credentials", scope="events:write")

    assert answer["status"] == 400
    assert answer["error"] == "invalid_scope"


def test_wrong_client_secret_gets_no_token(org):
    client, _secret = make_client(org)

    answer = token_request(client.application.client_id, "not-the-secret", grant_type="client_credentials")

    assert answer["status"] == 401
    assert answer["error"] == "invalid_client"


def test_expired_token_is_refused(org):
    client, _secret = make_client(org)
    request = SimpleNamespace(
        client=client.application, grant_type="client_credentials", user=None, scopes=["events:read"], expires_in=-3600
    )
    token = access_token_generate(request)  # signed by us, but its exp is an hour ago
    row = get_access_token_model()(
        application=client.application, scope="events:read", expires=timezone.now() + timedelta(hours=1)
    )
    set_token_value(row, token)
    row.save()  # the stored row alone would still let it through

    response = api_get("/api/v1/events", token)

    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_token_is_refused(org):
    victim = make_org("Victim")
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    forged_org = ".".join([header, _b64({**claims, "org": victim.pk}), signature])
    forged_scope = ".".join([header, _b64({**claims, "scope": " ".join(API_SCOPES)}), signature])

    assert api_get("/api/v1/events", token).status_code == 200
    assert api_get("/api/v1/events", forged_org).status_code == 401
    assert api_get("/api/v1/events", forged_scope).status_code == 401


def test_token_signed_with_another_key_is_refused(org):
    from cryptography.hazmat.primitives.asymmetric import rsa

    client, secret = make_client(org)
    claims = jwt.decode(client_credentials_token(client, secret), options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"typ": "at+jwt"})

    assert api_get("/api/v1/events", forged).status_code == 401


def test_revoked_token_is_refused_at_once(org):
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)
    assert api_get("/api/v1/events", token).status_code == 200  # now remembered by this worker

    revoke = Client().post("/oauth/revoke/", {"token": token}, headers=basic(client.application.client_id, secret))

    assert revoke.status_code == 200
    assert api_get("/api/v1/events", token).status_code == 401


def test_another_client_cannot_revoke_a_token(org):
    client, secret = make_client(org)
    intruder, intruder_secret = make_client(org, name="Intruder")
    token = client_credentials_token(client, secret)

    Client().post("/oauth/revoke/", {"token": token}, headers=basic(intruder.application.client_id, intruder_secret))

    assert api_get("/api/v1/events", token).status_code == 200


def test_deleting_the_app_refuses_its_tokens(org):
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)
    assert api_get("/api/v1/events", token).status_code == 200

    App.objects.filter(pk=client.app_id).delete()

    assert api_get("/api/v1/events", token).status_code == 401
    assert token_request(client.application.client_id, secret, grant_type="client_credentials")["status"] == 401


def test_introspection_describes_the_clients_own_active_token(org):
    client, secret = make_client(org, scopes=("events:read", "payments:read"))
    other, other_secret = make_client(org, name="Other")
    token = client_credentials_token(client, secret)

    def introspect(client_id, client_secret):
        return Client().post("/oauth/introspect/", {"token": token}, headers=basic(client_id, client_secret)).json()

    own = introspect(client.application.client_id, secret)
    assert own["active"] is True
    assert own["scope"] == "events:read payments:read"
    assert own["org"] == org.pk
    assert own["client_id"] == client.application.client_id
    assert own["token_type"] == "Bearer"
    assert introspect(other.application.client_id, other_secret) == {"active": False}

    Client().post("/oauth/revoke/", {"token": token}, headers=basic(client.application.client_id, secret))
    assert introspect(client.application.client_id, secret) == {"active": False}


def test_introspection_needs_client_authentication(org):
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)

    response = Client().post("/oauth/introspect/", {"token": token})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_create_oauth_app_command_prints_working_credentials(org):
    out, err = StringIO(), StringIO()

    call_command(
        "create_oauth_app", "--org", org.slug, "--name", "Partner sync", "--grant", "client-credentials",
        "--scopes", "events:read,registrations:read", stdout=out, stderr=err,
    )  # fmt: skip

    printed = dict(line.split("=", 1) for line in out.getvalue().split())
    client = OAuthClient.objects.get(application__client_id=printed["client_id"])
    assert client.app.name == "Partner sync"
    assert client.scopes == ["events:read", "registrations:read"]
    assert "shown only once" in err.getvalue()
    token = client_credentials_token(client, printed["client_secret"])
    assert api_get("/api/v1/events", token).status_code == 200


def test_create_oauth_app_command_refuses_unknown_scopes(org):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown scopes: events:delete"):
        call_command(
            "create_oauth_app", "--org", org.slug, "--name", "X", "--grant", "client-credentials", "--scopes", "events:delete"
        )


def test_discovery_documents_list_the_endpoints(client):
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        meta = client.get(path).json()

        assert meta["issuer"] == issuer()
        assert meta["scopes_supported"] == list(API_SCOPES)
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert set(meta["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
        assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
        endpoints = {
            name: meta[name]
            for name in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "introspection_endpoint", "jwks_uri")
        }
        assert {name: url.removeprefix(issuer()) for name, url in endpoints.items()} == {
            "authorization_endpoint": "/oauth/authorize/",
            "token_endpoint": "/oauth/token/",
            "revocation_endpoint": "/oauth/revoke/",
            "introspection_endpoint": "/oauth/introspect/",
            "jwks_uri": "/oauth/jwks.json",
        }
    assert client.get("/.well-known/openid-configuration").json()["id_token_signing_alg_values_supported"] == ["RS256"]
