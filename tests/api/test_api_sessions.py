"""/api/v1/events/{eventId}/sessions and /api/v1/speakers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_key_create
from events import services, snapshots
from events.models import Session, Speaker
from integrations.models import OutboxEvent
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event

pytestmark = pytest.mark.django_db

JSON = "application/json"


def iso(value) -> str:
    return value.isoformat()


def make_session(event, *, title="Keynote", hours=0, capacity=None, room="Hall A", speakers=()):
    start = event.starts_at + timedelta(hours=hours)
    return services.session_create(
        org=event.organization,
        actor=None,
        event_id=event.pk,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        room=room,
        capacity=capacity,
        speaker_ids=[s.pk for s in speakers],
    )


def make_speaker(org, name="Ada Lovelace", company="Analytical"):
    return services.speaker_create(org=org, actor=None, name=name, company=company)


def session_url(event, session=None, suffix="") -> str:
    url = f"/api/v1/events/{event.pk}/sessions"
    return f"{url}/{session.pk}{suffix}" if session else url


def outbox_types(org) -> list[str]:
    return list(OutboxEvent.objects.filter(organization=org).order_by("pk").values_list("event_type", flat=True))


@pytest.fixture
def event(org):
    return make_event(org, title="Conf")


@pytest.fixture
def session(event):
    return make_session(event)


# --- Reads ----------------------------------------------------------------------------------------


def test_session_list_returns_sessions_with_speakers_and_seats(api_client, org, published_event):
    ada = make_speaker(org)
    talk = make_session(published_event, title="Talk", capacity=5, speakers=[ada])
    services.registration_create(
        org=org,
        actor=None,
        ticket_type_id=published_event.ticket_types.get().pk,
        name="Grace",
        email="grace@example.com",
        session_ids=[talk.pk],
    )

    response = api_client.get(session_url(published_event))

    assert response.status_code == 200
    assert response.json()["data"] == [{**snapshots.session_data(talk), "taken": 1, "seatsLeft": 4}]
    assert response.json()["data"][0]["speakers"] == [{"id": ada.pk, "name": "Ada Lovelace", "company": "Analytical"}]
    assert response.json()["pagination"] == {
        "total": 1,
        "page": 1,
        "pageSize": 20,
        "totalPages": 1,
        "limit": None,
        "offset": None,
        "nextCursor": None,
    }


def test_session_list_sorts_by_start_by_default_and_reverses_with_a_minus(api_client, event):
    late = make_session(event, title="Late", hours=3)
    early = make_session(event, title="Early", hours=1)

    by_start = api_client.get(session_url(event)).json()["data"]
    latest_first = api_client.get(session_url(event) + "?sort=-startsAt").json()["data"]

    assert [s["id"] for s in by_start] == [early.pk, late.pk]
    assert [s["id"] for s in latest_first] == [late.pk, early.pk]


def test_session_list_sorts_by_title(api_client, event):
    beta = make_session(event, title="Beta", hours=1)
    alpha = make_session(event, title="Alpha", hours=3)

    data = api_client.get(session_url(event) + "?sort=title").json()["data"]

    assert [s["id"] for s in data] == [alpha.pk, beta.pk]


def test_session_list_rejects_an_unknown_sort(api_client, event):
    error = assert_envelope(api_client.get(session_url(event) + "?sort=speaker"), 400, "INVALID_SORT")

    assert error["target"] == "sort"


def test_session_list_filters_by_room_and_cancelled(api_client, org, event):
    hall = make_session(event, title="Hall", room="Hall A")
    side = make_session(event, title="Side", room="Room 2", hours=1)
    gone = make_session(event, title="Gone", room="Room 2", hours=2)
    services.session_cancel(org=org, actor=None, session_id=gone.pk)

    in_room = api_client.get(session_url(event) + "?room=Room 2").json()["data"]
    cancelled = api_client.get(session_url(event) + "?cancelled=true").json()["data"]
    active = api_client.get(session_url(event) + "?cancelled=false").json()["data"]

    assert [s["id"] for s in in_room] == [side.pk, gone.pk]
    assert [s["id"] for s in cancelled] == [gone.pk]
    assert [s["id"] for s in active] == [hall.pk, side.pk]


def test_session_list_query_count_does_not_grow_with_sessions(api_client, org, event):
    ada, bob = make_speaker(org), make_speaker(org, name="Bob")
    make_session(event, speakers=[ada])
    api_client.get("/api/v1/speakers")  # the key's first use of the minute records last_used_at

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get(session_url(event)).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    make_session(event, title="Two", hours=1, speakers=[ada, bob])
    make_session(event, title="Three", hours=2, speakers=[bob])
    three = count()

    assert one == three


def test_session_detail_returns_the_session(api_client, event, session):
    response = api_client.get(session_url(event, session))

    assert response.status_code == 200
    assert response.json() == {**snapshots.session_data(session), "taken": 0, "seatsLeft": None}


def test_session_speakers_lists_the_sessions_speakers(api_client, org, event):
    ada, bob = make_speaker(org, name="Ada"), make_speaker(org, name="Bob", company="")
    make_speaker(org, name="Not speaking")
    talk = make_session(event, speakers=[bob, ada])

    response = api_client.get(session_url(event, talk, "/speakers"))

    assert response.status_code == 200
    assert [s["name"] for s in response.json()] == ["Ada", "Bob"]
    assert response.json()[1] == {"id": bob.pk, "name": "Bob", "company": "", "email": "", "bio": ""}


# --- Writes ---------------------------------------------------------------------------------------


def test_create_session_answers_201_and_publishes_session_created(api_client, org, event):
    ada = make_speaker(org)
    OutboxEvent.objects.all().delete()
    start = event.starts_at + timedelta(hours=2)

    response = api_client.post(
        session_url(event),
        {
            "title": "Opening",
            "startsAt": iso(start),
            "endsAt": iso(start + timedelta(minutes=45)),
            "room": "Main",
            "capacity": 50,
            "speakerIds": [ada.pk],
        },
        content_type=JSON,
    )

    assert response.status_code == 201
    created = Session.objects.get(event=event)
    assert (created.title, created.room, created.capacity) == ("Opening", "Main", 50)
    assert response.json() == {**snapshots.session_data(created), "taken": 0, "seatsLeft": 50}
    assert outbox_types(org) == ["session.created"]
    assert OutboxEvent.objects.get().payload == snapshots.session_data(created)


def test_create_session_outside_the_event_answers_422_on_starts_at(api_client, event):
    start = event.starts_at - timedelta(days=1)

    response = api_client.post(
        session_url(event),
        {"title": "Too early", "startsAt": iso(start), "endsAt": iso(start + timedelta(hours=1))},
        content_type=JSON,
    )

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["target"] == "startsAt"
    assert Session.objects.filter(event=event).exists() is False


def test_create_session_ending_before_it_starts_answers_422_on_ends_at(api_client, event):
    start = event.starts_at + timedelta(hours=2)

    response = api_client.post(
        session_url(event),
        {"title": "Backwards", "startsAt": iso(start), "endsAt": iso(start - timedelta(hours=1))},
        content_type=JSON,
    )

    assert assert_envelope(response, 422, "VALIDATION_ERROR")["target"] == "endsAt"


def test_create_session_with_another_organizations_speaker_answers_422_on_speaker_ids(api_client, event, other_org):
    foreign = make_speaker(other_org)
    start = event.starts_at + timedelta(hours=2)

    response = api_client.post(
        session_url(event),
        {"title": "Talk", "startsAt": iso(start), "endsAt": iso(start + timedelta(hours=1)), "speakerIds": [foreign.pk]},
        content_type=JSON,
    )

    assert assert_envelope(response, 422, "VALIDATION_ERROR")["target"] == "speakerIds"
    assert Session.objects.filter(event=event).exists() is False


def test_update_session_changes_only_what_was_sent_and_publishes_session_updated(api_client, org, event, session):
    ada = make_speaker(org)
    OutboxEvent.objects.all().delete()

    response = api_client.patch(session_url(event, session), {"title": "Renamed", "speakerIds": [ada.pk]}, content_type=JSON)

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.title, session.room) == ("Renamed", "Hall A")
    assert list(session.speakers.all()) == [ada]
    assert response.json() == {**snapshots.session_data(session), "taken": 0, "seatsLeft": None}
    assert outbox_types(org) == ["session.updated"]


def test_update_session_out_of_the_event_answers_422_on_starts_at(api_client, event, session):
    response = api_client.patch(
        session_url(event, session), {"startsAt": iso(event.starts_at - timedelta(hours=2))}, content_type=JSON
    )

    assert assert_envelope(response, 422, "VALIDATION_ERROR")["target"] == "startsAt"
    session.refresh_from_db()
    assert session.starts_at == event.starts_at


def test_cancel_session_marks_it_cancelled_and_publishes_session_cancelled(api_client, org, event, session):
    OutboxEvent.objects.all().delete()

    response = api_client.post(session_url(event, session, "/cancel"))

    assert response.status_code == 200
    assert response.json()["cancelled"] is True
    assert outbox_types(org) == ["session.cancelled"]


def test_cancel_session_twice_answers_409(api_client, event, session):
    api_client.post(session_url(event, session, "/cancel"))

    response = api_client.post(session_url(event, session, "/cancel"))

    assert_envelope(response, 409, "INVALID_EVENT_STATE")


def test_update_a_cancelled_session_answers_409_and_changes_nothing(api_client, org, event, session):
    services.session_cancel(org=org, actor=None, session_id=session.pk)

    response = api_client.patch(session_url(event, session), {"title": "Back again"}, content_type=JSON)

    assert_envelope(response, 409, "INVALID_EVENT_STATE")
    session.refresh_from_db()
    assert session.title == "Keynote"


def test_patch_with_a_null_title_answers_422_on_title(api_client, event, session):
    response = api_client.patch(session_url(event, session), {"title": None}, content_type=JSON)

    assert assert_envelope(response, 422, "VALIDATION_ERROR")["target"] == "title"


def test_create_speaker_answers_201_and_the_list_shows_it(api_client, org):
    response = api_client.post(
        "/api/v1/speakers", {"name": "Grace Hopper", "company": "Navy", "email": "grace@example.com"}, content_type=JSON
    )

    assert response.status_code == 201
    speaker = Speaker.objects.get(organization=org)
    expected = {"id": speaker.pk, "name": "Grace Hopper", "company": "Navy", "email": "grace@example.com", "bio": ""}
    assert response.json() == expected
    assert api_client.get("/api/v1/speakers").json()["data"] == [expected]


def test_create_speaker_with_a_bad_email_answers_422_on_email(api_client, org):
    response = api_client.post("/api/v1/speakers", {"name": "Grace", "email": "not-an-address"}, content_type=JSON)

    assert assert_envelope(response, 422, "VALIDATION_ERROR")["target"] == "email"
    assert Speaker.objects.filter(organization=org).exists() is False


def test_speaker_list_is_sorted_by_name_and_only_shows_this_organization(api_client, org, other_org):
    make_speaker(org, name="Zed")
    make_speaker(org, name="Amy")
    make_speaker(other_org, name="Secret speaker")

    data = api_client.get("/api/v1/speakers").json()["data"]

    assert [s["name"] for s in data] == ["Amy", "Zed"]


def test_speaker_list_query_count_does_not_grow_with_speakers(api_client, org):
    make_speaker(org, name="One")
    api_client.get(session_url(make_event(org)))  # the key's first use of the minute records last_used_at

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get("/api/v1/speakers").status_code == 200
        return len(ctx.captured_queries)

    one = count()
    make_speaker(org, name="Two")
    make_speaker(org, name="Three")

    assert count() == one


# --- Tenancy --------------------------------------------------------------------------------------


@pytest.fixture
def foreign(other_org):
    """(event, session) of another organization."""
    event = other_org.events.get()
    return event, make_session(event)


def _calls(event, session) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", session_url(event), None),
        ("get", session_url(event, session), None),
        ("patch", session_url(event, session), {"title": "Hijacked"}),
        ("post", session_url(event, session, "/cancel"), None),
        ("get", session_url(event, session, "/speakers"), None),
    ]


def _send(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type=JSON)


@pytest.mark.parametrize("index", range(5))
def test_another_organizations_event_or_session_answers_404(api_client, foreign, index):
    method, url, body = _calls(*foreign)[index]

    assert_envelope(_send(api_client, method, url, body), 404, "RESOURCE_NOT_FOUND")
    assert Session.objects.get(pk=foreign[1].pk).title == "Keynote"
    assert Session.objects.get(pk=foreign[1].pk).cancelled is False


def test_creating_a_session_in_another_organizations_event_answers_404(api_client, foreign):
    event, _session = foreign
    start = event.starts_at + timedelta(hours=1)

    response = api_client.post(
        session_url(event),
        {"title": "Sneaky", "startsAt": iso(start), "endsAt": iso(start + timedelta(hours=1))},
        content_type=JSON,
    )

    assert_envelope(response, 404, "RESOURCE_NOT_FOUND")
    assert Session.objects.filter(event=event).count() == 1


@pytest.mark.parametrize("index", range(1, 5))
def test_a_session_of_another_event_of_the_same_organization_answers_404(api_client, org, event, session, index):
    other_event = make_event(org, title="Other")
    method, url, body = _calls(other_event, session)[index]

    assert_envelope(_send(api_client, method, url, body), 404, "RESOURCE_NOT_FOUND")
    session.refresh_from_db()
    assert (session.title, session.cancelled) == ("Keynote", False)


# --- Scopes ---------------------------------------------------------------------------------------


ENDPOINTS = [
    ("get", "/api/v1/events/{e}/sessions", "events:read"),
    ("get", "/api/v1/events/{e}/sessions/{s}", "events:read"),
    ("post", "/api/v1/events/{e}/sessions", "events:write"),
    ("patch", "/api/v1/events/{e}/sessions/{s}", "events:write"),
    ("post", "/api/v1/events/{e}/sessions/{s}/cancel", "events:write"),
    ("get", "/api/v1/events/{e}/sessions/{s}/speakers", "events:read"),
    ("get", "/api/v1/speakers", "events:read"),
    ("post", "/api/v1/speakers", "events:write"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_needs_its_scope(org, event, session, method, path, scope):
    others = ["registrations:read", "registrations:write", "events:read", "events:write"]
    _key, secret = api_key_create(org=org, actor=None, name="narrow", scopes=[s for s in others if s != scope])
    start = event.starts_at + timedelta(hours=2)
    body = {"title": "X", "name": "X", "startsAt": iso(start), "endsAt": iso(start + timedelta(hours=1))}

    response = _send(ApiClient(secret), method, path.format(e=event.pk, s=session.pk), None if method == "get" else body)

    error = assert_envelope(response, 403, "INSUFFICIENT_SCOPE")
    assert error["details"] == {"requiredScope": scope}
    assert Session.objects.filter(event=event).count() == 1
    assert Speaker.objects.filter(organization=org).exists() is False


def test_session_webhook_data_is_the_session_as_the_api_returns_it(api_client, org, event):
    body = {
        "title": "Same shape",
        "startsAt": iso(event.starts_at),
        "endsAt": iso(event.starts_at + timedelta(hours=1)),
        "capacity": 5,
    }

    created = api_client.post(session_url(event), body, content_type="application/json").json()
    fetched = api_client.get(session_url(event) + f"/{created['id']}").json()

    assert OutboxEvent.objects.get(event_type="session.created").payload == created == fetched
    assert (created["taken"], created["seatsLeft"]) == (0, 5)
