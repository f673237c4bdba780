"""Big collections answer repeats from the cache, and never after the organization's data changed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import services
from tests.factories import make_event, make_ticket_type


@pytest.fixture(autouse=True)
def list_cache_on(settings):
    settings.API_LIST_CACHE_SECONDS = 60


def _titles(api_client) -> list[str]:
    response = api_client.get("/api/v1/events?pageSize=50")
    assert response.status_code == 200
    return [e["title"] for e in response.json()["data"]]


def test_repeat_read_of_events_is_served_without_reading_events(org, api_client):
    make_event(org, title="Cached")
    _titles(api_client)

    with CaptureQueriesContext(connection) as queries:
        assert _titles(api_client) == ["Cached"]

    assert not [q["sql"] for q in queries if "events_event" in q["sql"]]


def test_an_update_through_the_service_shows_at_once(org, api_client):
    event = make_event(org, title="Before")
    assert _titles(api_client) == ["Before"]

    services.event_update(org=org, actor=None, event_id=event.pk, title="After")

    assert _titles(api_client) == ["After"]


def test_a_new_registration_shows_in_the_registrations_list_at_once(org, api_client):
    tt = make_ticket_type(make_event(org, publish=False))
    services.event_publish(org=org, actor=None, event_id=tt.event_id)
    assert api_client.get("/api/v1/registrations").json()["data"] == []

    services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com")

    assert [r["email"] for r in api_client.get("/api/v1/registrations").json()["data"]] == ["ada@example.com"]


def test_another_organizations_cached_page_is_never_served(org, other_org, api_client):
    from accounts.models import API_SCOPES
    from accounts.services import api_key_create
    from tests.api.conftest import ApiClient

    make_event(org, title="Ours")
    make_event(other_org, title="Theirs")
    other_client = ApiClient(api_key_create(org=other_org, actor=None, name="k", scopes=list(API_SCOPES))[1])

    assert _titles(api_client) == ["Ours"]
    theirs = _titles(other_client)
    assert "Theirs" in theirs
    assert "Ours" not in theirs
    assert _titles(api_client) == ["Ours"]


def test_different_filters_are_different_pages(org, api_client):
    make_event(org, title="Alpha")
    make_event(org, title="Beta")

    assert [e["title"] for e in api_client.get("/api/v1/events?q=Alpha").json()["data"]] == ["Alpha"]
    assert [e["title"] for e in api_client.get("/api/v1/events?q=Beta").json()["data"]] == ["Beta"]
