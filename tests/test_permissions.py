"""Every organizer-portal URL × every role, plus tenancy: another organization's objects answer 404.

The URL list is read from the URLconf, so a new portal page is covered (and must declare its permission
through ``org_view``) without anyone remembering to add it here.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Invitation, Membership, Role
from accounts.permissions import PERMISSIONS
from accounts.services import api_key_create, app_create
from events import exports, services
from integrations import services as webhook_services
from portal.oauth import services as oauth_services
from tests.factories import make_event, make_member, make_org

pytestmark = pytest.mark.django_db

# Fragments that, asked for outside htmx, send the browser to their full page.
REDIRECTS = {"events:session-row", "accounts:api-key-list"}  # the old API keys page leads to dev-apps
# Views that only accept POST: an allowed GET answers 405, a denied one 403 before that.
POST_ONLY = {
    "events:session-cancel",
    "events:registration-bulk",
    "events:checkin-perform",
    "events:export-tickets",
    "accounts:api-key-revoke",
    "accounts:member-invite",
    "accounts:membership-role",
    "accounts:membership-remove",
    "accounts:invitation-revoke",
    "accounts:sso-test-start",
    "integrations:endpoint-enable",
    "integrations:endpoint-disable",
    "integrations:endpoint-rotate",
    "integrations:endpoint-test",
    "integrations:endpoint-redeliver-failed",
    "integrations:endpoint-delete",
    "integrations:delivery-replay",
    "events:calendar-feed-reset",
    "events:email-preview",
    "events:email-reset",
    "dev-first-key",
    "dev-test-events",
    "dev-key-roll",
    "dev-key-revoke",
    "oauth:client-delete",
}
# URL parameters that name a fixed choice (the kind of e-mail), not one of the organization's objects
NOT_OBJECTS = {"org_slug", "kind"}


def _portal_patterns() -> list[tuple[str, str]]:
    """(namespaced url name, permission) of every URL that resolves an organization."""
    found = []

    def walk(patterns, namespace, route):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, p.namespace or namespace, route + str(p.pattern))
            elif isinstance(p, URLPattern) and hasattr(p.callback, "permission"):
                name = f"{namespace}:{p.name}" if namespace else p.name  # the developer pages have none
                found.append((name, p.callback.permission))
                KWARGS[name] = re.findall(r"<(?:\w+:)?(\w+)>", route + str(p.pattern))

    walk(get_resolver().url_patterns, None, "")
    return sorted(found)


KWARGS: dict[str, list[str]] = {}
PORTAL_URLS = _portal_patterns()
ROLES = list(Role.values)


def _world(org):
    """One of everything in ``org``, so every URL has an object to point at."""
    owner = make_member(org, Role.OWNER)
    event = make_event(org, publish=True, title=f"{org.slug} event")
    tt = event.ticket_types.get()
    session = services.session_create(
        org=org,
        actor=owner,
        event_id=event.pk,
        title="Talk",
        starts_at=event.starts_at,
        ends_at=event.starts_at + timedelta(hours=1),
    )
    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Pat", email=f"pat@{org.slug}.test")
    app = app_create(org=org, actor=owner, name=f"{org.slug} app")
    api_key, _secret = api_key_create(org=org, actor=owner, name="k", scopes=["events:read"], app=app)
    oauth_client, _secret = oauth_services.oauth_client_create(
        org=org, actor=owner, app_id=app.pk, name="c", grant_type="client-credentials", scopes=["events:read"]
    )
    invitation = Invitation.objects.create(
        organization=org, email=f"new@{org.slug}.test", role=Role.VIEWER, token=f"tok-{org.slug}"
    )
    endpoint = webhook_services.webhook_endpoint_create(org=org, actor=owner, url=f"https://hooks.{org.slug}.test/convene")
    delivery = webhook_services.webhook_endpoint_send_test(org=org, actor=owner, endpoint_id=endpoint.pk)
    job = exports.export_tickets_pdf_create(org=org, actor=owner, event_id=event.pk)
    exports.export_tickets_pdf_run(job_id=job.pk)  # done, with its file: every export URL has something to show
    return {
        "org_slug": org.slug,
        "event_id": event.pk,
        "session_id": session.pk,
        "ticket_type_id": tt.pk,
        "registration_id": reg.pk,
        "membership_id": Membership.objects.get(user=owner, organization=org).pk,
        "invitation_id": invitation.pk,
        "api_key_id": api_key.pk,
        "app_id": app.pk,
        "client_id": oauth_client.pk,
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery.pk,
        "job_id": job.pk,
        "kind": "confirmation",
    }


def _url(name: str, ids: dict) -> str:
    return reverse(name, kwargs={k: ids[k] for k in KWARGS[name]})


@pytest.fixture
def worlds():
    home, away = make_org("Home", slug="home"), make_org("Away", slug="away")
    return home, _world(home), away, _world(away)


def test_every_portal_url_declares_a_known_permission():
    assert len(PORTAL_URLS) >= 25
    assert {perm for _name, perm in PORTAL_URLS} <= set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_every_url_for_role(worlds, role):
    home, ids, _away, _away_ids = worlds
    client = Client()
    client.force_login(make_member(home, role))

    got, expected = {}, {}
    for name, perm in PORTAL_URLS:
        url = _url(name, ids)
        allowed = role in PERMISSIONS[perm]
        expected[name] = (405 if name in POST_ONLY else 302 if name in REDIRECTS else 200) if allowed else 403
        got[name] = client.get(url).status_code

    assert got == expected


@pytest.mark.parametrize("role", ROLES)
def test_denied_roles_cannot_post_to_any_url(worlds, role):
    home, ids, _away, _away_ids = worlds
    client = Client()
    client.force_login(make_member(home, role))

    got = {}
    for name, perm in PORTAL_URLS:
        if role not in PERMISSIONS[perm]:
            got[name] = client.post(
                _url(name, ids), {"title": "x", "ids": [ids["registration_id"]], "action": "cancel", "role": "owner"}
            ).status_code

    assert set(got.values()) <= {403}


def test_another_organizations_objects_answer_404_for_its_owner_elsewhere(worlds):
    home, ids, _away, away_ids = worlds
    client = Client()
    client.force_login(make_member(home, Role.OWNER))

    got = {}
    for name, _perm in PORTAL_URLS:
        keys = KWARGS[name]
        if set(keys) <= NOT_OBJECTS:
            continue
        # our organization in the URL, the other organization's object ids
        mixed = {k: (ids["org_slug"] if k == "org_slug" else away_ids[k]) for k in keys}
        method = client.post if name in POST_ONLY else client.get
        got[name] = method(reverse(name, kwargs=mixed)).status_code

    assert set(got.values()) == {404}, got


def test_a_non_member_gets_404_for_every_url_of_an_organization(worlds):
    _home, _ids, _away, away_ids = worlds
    client = Client()
    client.force_login(make_member(make_org("Third"), Role.OWNER))

    got = {name: client.get(_url(name, away_ids)).status_code for name, _perm in PORTAL_URLS}

    assert set(got.values()) == {404}, got


def test_anonymous_visitors_are_sent_to_login(worlds):
    _home, ids, _away, _away_ids = worlds
    client = Client()

    got = {name: client.get(_url(name, ids)) for name, _perm in PORTAL_URLS}

    assert {r.status_code for r in got.values()} == {302}
    assert all(r["Location"].startswith(reverse("account_login")) for r in got.values())


def test_post_with_another_organizations_ids_changes_nothing(worlds):
    home, _ids, _away, away_ids = worlds
    client = Client()
    client.force_login(make_member(home, Role.OWNER))

    response = client.post(
        reverse("events:registration-bulk", kwargs={"org_slug": home.slug, "event_id": away_ids["event_id"]}),
        {"ids": [away_ids["registration_id"]], "action": "cancel"},
    )

    assert response.status_code == 404
    from events.models import Registration

    assert Registration.objects.get(pk=away_ids["registration_id"]).status == "confirmed"
