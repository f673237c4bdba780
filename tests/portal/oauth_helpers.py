"""Shared pieces of the OAuth tests: a client of an app, a token from the token endpoint, PKCE pairs."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import App
from portal.api.auth import api_keys_forget
from portal.oauth import services
from portal.oauth.tokens import access_tokens_forget

REDIRECT_URI = "https://client.example/callback"


@pytest.fixture(autouse=True)
def fresh_caches():
    """Rate limits and remembered credentials start empty in every test."""
    cache.clear()
    api_keys_forget()
    access_tokens_forget()
    yield
    cache.clear()
    access_tokens_forget()


def make_client(org, *, grant: str = services.GRANT_CLIENT_CREDENTIALS, scopes=("events:read",), name: str = "Sync"):
    app, _ = App.objects.get_or_create(organization=org, name=f"{name} app")
    return services.oauth_client_create(
        org=org,
        actor=None,
        app_id=app.pk,
        name=name,
        grant_type=grant,
        scopes=list(scopes),
        redirect_uris=[REDIRECT_URI] if grant == services.GRANT_AUTHORIZATION_CODE else [],
    )


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token_request(client_id: str, secret: str, **data) -> dict:
    response = Client().post("/oauth/token/", data, headers=basic(client_id, secret))
    return {"status": response.status_code, **response.json()}


def client_credentials_token(oauth_client, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = token_request(oauth_client.application.client_id, secret, **data)
    assert answer["status"] == 200, answer
    return answer["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
