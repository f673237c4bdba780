"""/api/v1/…/calendar: events, sessions and registrations as text/calendar, scoped to the caller's organization."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from accounts.models import API_SCOPES
from accounts.services import api_key_create
from events import services
from tests.api.conftest import ApiClient
from tests.factories import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(org):
    return make_event(org, publish=True, title="Python Summit")


@pytest.fixture
def session(event):
    return services.session_create(
        org=event.organization,
        actor=None,
        event_id=event.pk,
        title="Keynote",
        starts_at=event.starts_at,
        ends_at=event.starts_at + timedelta(hours=1),
    )


@pytest.fixture
def registration(event, session):
    return services.registration_create(
        org=event.organization,
        actor=None,
        ticket_type_id=event.ticket_types.first().pk,
        name="Ada",
        email="ada@example.com",
        session_ids=[session.pk],
    )


def _uids(response) -> list[str]:
    return [str(e["UID"]) for e in Calendar.from_ical(response.content).walk("VEVENT")]


def _client_without(org, scope: str) -> ApiClient:
    _key, secret = api_key_create(org=org, actor=None, name="narrow", scopes=[s for s in API_SCOPES if s != scope])
    return ApiClient(secret)


def test_event_calendar_is_text_calendar_with_its_sessions(api_client, event, session):
    response = api_client.get(f"/api/v1/events/{event.pk}/calendar")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'
    assert _uids(response) == [f"event-{event.pk}@localhost", f"session-{session.pk}@localhost"]
    assert "ETag" in response
    assert "X-Correlation-ID" in response


def test_session_calendar_has_that_session(api_client, event, session):
    response = api_client.get(f"/api/v1/events/{event.pk}/sessions/{session.pk}/calendar")

    assert response.status_code == 200
    assert _uids(response) == [f"session-{session.pk}@localhost"]


def test_session_of_another_event_is_a_404(api_client, org, session):
    other = make_event(org, publish=True)

    response = api_client.get(f"/api/v1/events/{other.pk}/sessions/{session.pk}/calendar")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_registration_calendar_has_the_event_and_chosen_sessions(api_client, event, session, registration):
    response = api_client.get(f"/api/v1/registrations/{registration.pk}/calendar")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert _uids(response) == [f"event-{event.pk}@localhost", f"session-{session.pk}@localhost"]


def test_another_organizations_event_and_registration_are_404(api_client, other_org):
    foreign_event = other_org.events.get()
    foreign_reg = foreign_event.registrations.get()

    responses = [
        api_client.get(f"/api/v1/events/{foreign_event.pk}/calendar"),
        api_client.get(f"/api/v1/registrations/{foreign_reg.pk}/calendar"),
    ]

    assert [r.status_code for r in responses] == [404, 404]
    assert all(r.json()["error"]["code"] == "RESOURCE_NOT_FOUND" for r in responses)
    assert all(b"Globex" not in r.content for r in responses)


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ("events:read", "/api/v1/events/{event}/calendar"),
        ("events:read", "/api/v1/events/{event}/sessions/{session}/calendar"),
        ("registrations:read", "/api/v1/registrations/{registration}/calendar"),
    ],
)
def test_calendars_need_their_read_scope(org, event, session, registration, scope, path):
    client = _client_without(org, scope)

    response = client.get(path.format(event=event.pk, session=session.pk, registration=registration.pk))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


def test_without_a_key_the_answer_is_401(anon_client, event):
    assert anon_client.get(f"/api/v1/events/{event.pk}/calendar").status_code == 401


def test_openapi_declares_text_calendar(anon_client):
    spec = anon_client.get("/api/v1/openapi.json").json()

    for path in (
        "/api/v1/events/{event_id}/calendar",
        "/api/v1/events/{event_id}/sessions/{session_id}/calendar",
        "/api/v1/registrations/{registration_id}/calendar",
    ):
        ok = spec["paths"][path]["get"]["responses"]["200"]
        assert list(ok["content"]) == ["text/calendar"]
