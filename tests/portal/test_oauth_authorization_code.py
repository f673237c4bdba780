"""Authorization code with PKCE, end to end: login, consent screen, code exchange, refresh rotation; and what a
user's consent allows (organization, role, sandbox) and withdraws (authorized apps)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from accounts.models import Membership, Role
from portal.models import OAuthConsent
from portal.oauth import services
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member, make_org
from tests.portal.oauth_helpers import (
    REDIRECT_URI,
    bearer,
    fresh_caches,  # noqa: F401 (autouse fixture)
    make_client,
    pkce_pair,
    token_request,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_client(org):
    """An authorization-code client of ``org``'s app: (OAuthClient, secret)."""
    return make_client(org, grant=services.GRANT_AUTHORIZATION_CODE, scopes=("events:read", "events:write"), name="Planner")


def authorize_url(client_id: str, challenge: str, scope: str = "events:read", state: str = "xyz") -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return "/oauth/authorize/?" + urlencode(query)


def consent_post(browser: Client, page, *, allow: bool = True, organization=None):
    form = page.context["form"]
    data = {name: field.value() or "" for name, field in form.fields.items() if field.widget.is_hidden for field in [form[name]]}
    if allow:
        data["allow"] = "on"
    if organization is not None:
        data["organization"] = organization.pk
    return browser.post(page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"], data)


def redirect_params(response) -> dict:
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def authorize(browser, oauth_client, org, scope="events:read"):
    """Consent for ``org`` and return (code, verifier)."""
    verifier, challenge = pkce_pair()
    page = browser.get(authorize_url(oauth_client.application.client_id, challenge, scope=scope))
    assert page.status_code == 200, page.content
    params = redirect_params(consent_post(browser, page, organization=org))
    return params["code"], verifier


def exchange(oauth_client, secret, code, verifier):
    return token_request(
        oauth_client.application.client_id,
        secret,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )


def test_login_is_asked_first(web_client):
    oauth_client, _ = web_client

    response = Client().get(authorize_url(oauth_client.application.client_id, pkce_pair()[1]))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/oauth/authorize/")


def test_consent_screen_names_the_app_the_scopes_in_words_and_the_organization(org, web_client):
    oauth_client, _ = web_client
    browser = logged_in_client(make_member(org, Role.ORGANIZER))

    page = browser.get(authorize_url(oauth_client.application.client_id, pkce_pair()[1], scope="events:read events:write"))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Planner wants to use Convene for you" in html
    assert "See your events, sessions and their statistics" in html
    assert "Create, change, publish and cancel events and sessions" in html
    assert f'<option value="{org.pk}"' in html
    assert 'data-testid="consent-allow"' in html


def test_authorization_code_with_pkce_end_to_end_with_refresh_rotation(org, web_client):
    event = make_event(org, title="Planned")
    oauth_client, secret = web_client
    browser = logged_in_client(make_member(org, Role.ORGANIZER))
    verifier, challenge = pkce_pair()

    page = browser.get(
        authorize_url(oauth_client.application.client_id, challenge, scope="events:read events:write", state="s-1")
    )
    params = redirect_params(consent_post(browser, page, organization=org))
    assert params["state"] == "s-1"

    tokens = exchange(oauth_client, secret, params["code"], verifier)
    assert tokens["status"] == 200, tokens
    assert tokens["scope"] == "events:read events:write"
    listed = Client().get("/api/v1/events", headers=bearer(tokens["access_token"]))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [event.pk]

    refreshed = token_request(
        oauth_client.application.client_id, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed["status"] == 200, refreshed
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert Client().get("/api/v1/events", headers=bearer(refreshed["access_token"])).status_code == 200

    reused = token_request(
        oauth_client.application.client_id, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert reused["status"] == 400
    assert reused["error"] == "invalid_grant"


def test_code_is_refused_without_the_right_verifier(org, web_client):
    oauth_client, secret = web_client
    browser = logged_in_client(make_member(org, Role.ORGANIZER))
    code, _verifier = authorize(browser, oauth_client, org)

    answer = exchange(oauth_client, secret, code, pkce_pair()[0])

    assert answer["status"] == 400
    assert answer["error"] == "invalid_grant"


def test_pkce_is_required(org, web_client):
    oauth_client, _ = web_client
    browser = logged_in_client(make_member(org, Role.ORGANIZER))
    query = {"response_type": "code", "client_id": oauth_client.application.client_id, "redirect_uri": REDIRECT_URI, "state": "s"}

    response = browser.get("/oauth/authorize/?" + urlencode(query))

    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert "code challenge" in params["error_description"].lower()


def test_deny_sends_the_user_back_with_access_denied(org, web_client):
    oauth_client, _ = web_client
    browser = logged_in_client(make_member(org, Role.ORGANIZER))
    page = browser.get(authorize_url(oauth_client.application.client_id, pkce_pair()[1]))

    params = redirect_params(consent_post(browser, page, allow=False))

    assert params["error"] == "access_denied"
    assert not OAuthConsent.objects.exists()


def test_user_token_is_capped_by_their_role(org, web_client):
    """A viewer may grant events:read but not events:write: the write scope is not offered for that organization."""
    oauth_client, _ = web_client
    viewer = make_member(org, Role.VIEWER)
    browser = logged_in_client(viewer)

    page = browser.get(authorize_url(oauth_client.application.client_id, pkce_pair()[1], scope="events:read events:write"))
    assert f'<option value="{org.pk}"' not in page.content.decode()

    refused = consent_post(browser, page, organization=org)
    assert refused.status_code == 400
    assert "does not allow: events:write" in refused.content.decode()
    assert not OAuthConsent.objects.exists()


def test_user_token_acts_for_the_chosen_organization_only(org, web_client):
    second = make_org("Second")
    oauth_client, secret = web_client
    user = make_member(org, Role.ORGANIZER)
    Membership.objects.create(organization=second, user=user, role=Role.ORGANIZER)
    theirs = make_event(second, title="Second's event")
    code, verifier = authorize(logged_in_client(user), oauth_client, second)

    token = exchange(oauth_client, secret, code, verifier)["access_token"]

    listed = Client().get("/api/v1/events", headers=bearer(token)).json()["data"]
    assert [item["id"] for item in listed] == [theirs.pk]


def test_token_stops_working_when_the_user_leaves_the_organization(org, web_client):
    oauth_client, secret = web_client
    user = make_member(org, Role.ORGANIZER)
    code, verifier = authorize(logged_in_client(user), oauth_client, org)
    token = exchange(oauth_client, secret, code, verifier)["access_token"]
    assert Client().get("/api/v1/events", headers=bearer(token)).status_code == 200

    Membership.objects.filter(user=user, organization=org).delete()

    assert Client().get("/api/v1/events", headers=bearer(token)).status_code == 401


def test_sandbox_app_is_offered_only_sandbox_organizations(org, web_client):
    sandbox = make_org("Sandbox")
    sandbox.is_sandbox = True
    sandbox.save()
    user = make_member(org, Role.OWNER)
    Membership.objects.create(organization=sandbox, user=user, role=Role.OWNER)
    sandbox_client, _ = make_client(sandbox, grant=services.GRANT_AUTHORIZATION_CODE, name="Sandbox planner")
    browser = logged_in_client(user)

    page = browser.get(authorize_url(sandbox_client.application.client_id, pkce_pair()[1]))
    html = page.content.decode()
    assert f'<option value="{sandbox.pk}"' in html
    assert f'<option value="{org.pk}"' not in html

    refused = consent_post(browser, page, organization=org)
    assert refused.status_code == 400
    assert "can only act for sandbox organizations" in refused.content.decode()


def test_authorized_apps_lists_the_consent_and_revoking_it_refuses_the_tokens(org, web_client):
    oauth_client, secret = web_client
    user = make_member(org, Role.ORGANIZER)
    browser = logged_in_client(user)
    code, verifier = authorize(browser, oauth_client, org)
    tokens = exchange(oauth_client, secret, code, verifier)
    assert Client().get("/api/v1/events", headers=bearer(tokens["access_token"])).status_code == 200

    page = browser.get("/account/authorized-apps/")
    html = page.content.decode()
    assert "Planner" in html
    assert "See your events, sessions and their statistics" in html
    consent = OAuthConsent.objects.get(user=user)

    response = browser.post(f"/account/authorized-apps/{consent.pk}/revoke/")

    assert response.status_code == 302
    assert Client().get("/api/v1/events", headers=bearer(tokens["access_token"])).status_code == 401
    again = token_request(
        oauth_client.application.client_id, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert again["status"] == 400
    assert "You have not authorized any application." in browser.get("/account/authorized-apps/").content.decode()


def test_a_user_cannot_revoke_someone_elses_consent(org, web_client):
    oauth_client, _ = web_client
    owner = make_member(org, Role.ORGANIZER)
    authorize(logged_in_client(owner), oauth_client, org)
    consent = OAuthConsent.objects.get(user=owner)

    response = logged_in_client(make_member(org, Role.OWNER)).post(f"/account/authorized-apps/{consent.pk}/revoke/")

    assert response.status_code == 404
    assert OAuthConsent.objects.filter(pk=consent.pk).exists()
