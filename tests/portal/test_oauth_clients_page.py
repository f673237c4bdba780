"""An app's OAuth clients page: create (the secret shown once), list, delete; and the page's tenancy."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import App, Role
from portal.models import OAuthClient
from tests.conftest import logged_in_client
from tests.factories import make_member
from tests.portal.oauth_helpers import (
    REDIRECT_URI,
    bearer,
    client_credentials_token,
    fresh_caches,  # noqa: F401 (autouse fixture)
    make_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(org):
    return App.objects.create(organization=org, name="Door scanner")


def page_url(org, app) -> str:
    return f"/o/{org.slug}/developers/apps/{app.pk}/oauth/"


def test_developer_creates_a_client_credentials_client_and_sees_the_secret_once(org, app):
    browser = logged_in_client(make_member(org, Role.DEVELOPER))

    response = browser.post(
        page_url(org, app), {"name": "Nightly sync", "grant_type": "client-credentials", "scopes": ["events:read"]}
    )

    html = response.content.decode()
    assert response.status_code == 200
    client = OAuthClient.objects.get(app=app)
    secret = re.search(r'id="new-client-secret"[^>]*value="([^"]+)"', html).group(1)
    assert client.application.client_id in html
    assert client.application.client_secret != secret  # stored hashed
    token = client_credentials_token(client, secret)
    assert Client().get("/api/v1/events", headers=bearer(token)).status_code == 200
    again = browser.get(page_url(org, app)).content.decode()
    assert "Nightly sync" in again
    assert secret not in again


def test_authorization_code_client_needs_a_redirect_uri(org, app):
    browser = logged_in_client(make_member(org, Role.DEVELOPER))

    response = browser.post(page_url(org, app), {"name": "Web", "grant_type": "authorization-code", "scopes": ["events:read"]})

    assert response.status_code == 200
    assert "Give at least one redirect URI." in response.content.decode()
    assert not OAuthClient.objects.exists()


def test_authorization_code_client_keeps_its_redirect_uris(org, app):
    browser = logged_in_client(make_member(org, Role.ADMIN))

    browser.post(
        page_url(org, app),
        {
            "name": "Web",
            "grant_type": "authorization-code",
            "redirect_uris": REDIRECT_URI,
            "scopes": ["events:read", "events:write"],
        },
    )

    client = OAuthClient.objects.get(app=app)
    assert client.application.redirect_uris == REDIRECT_URI
    assert client.application.authorization_grant_type == "authorization-code"
    assert client.scopes == ["events:read", "events:write"]


def test_deleting_a_client_refuses_its_tokens(org, app):
    client, secret = make_client(org)
    token = client_credentials_token(client, secret)
    browser = logged_in_client(make_member(org, Role.DEVELOPER))

    response = browser.post(f"/o/{org.slug}/developers/apps/{client.app_id}/oauth/{client.pk}/delete/")

    assert response.status_code == 302
    assert not OAuthClient.objects.filter(pk=client.pk).exists()
    assert Client().get("/api/v1/events", headers=bearer(token)).status_code == 401


def test_another_organizations_app_and_client_are_404(org, other_org):
    theirs, _secret = make_client(other_org)
    browser = logged_in_client(make_member(org, Role.OWNER))

    assert browser.get(f"/o/{org.slug}/developers/apps/{theirs.app_id}/oauth/").status_code == 404
    assert browser.post(f"/o/{org.slug}/developers/apps/{theirs.app_id}/oauth/{theirs.pk}/delete/").status_code == 404
    assert OAuthClient.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.VIEWER, Role.CHECKIN])
def test_roles_without_developer_rights_are_refused(org, app, role):
    browser = logged_in_client(make_member(org, role))

    assert browser.get(page_url(org, app)).status_code == 403
