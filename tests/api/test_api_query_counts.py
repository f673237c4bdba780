"""Every list endpoint runs as many SQL queries for fifty items as for one: no query per item."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from events import services
from integrations import services as integration_services
from integrations.models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db

MANY = 50


def _register(event, i: int):
    tt = event.ticket_types.first()
    session_ids = list(event.sessions.values_list("pk", flat=True))
    return services.registration_create(
        org=event.organization, actor=None, ticket_type_id=tt.pk, name=f"P{i}", email=f"p{i}@example.com", session_ids=session_ids
    )


def _talk(event, title: str = "Talk"):
    return services.session_create(
        org=event.organization, actor=None, event_id=event.pk, title=title, starts_at=event.starts_at, ends_at=event.ends_at
    )


def events(org, n: int, offset: int) -> str:
    for i in range(offset, offset + n):
        event = make_event(org, publish=True, title=f"Event {i}", capacity=None)
        services.ticket_type_create(
            org=org, actor=None, event_id=event.pk, name="VIP", price=Decimal("10"), currency="EUR", capacity=5
        )
    return "/api/v1/events"


def children(org, n: int, offset: int) -> str:
    series = org.events.filter(parent=None, title="Series").first() or make_event(org, title="Series")
    for i in range(offset, offset + n):
        make_event(org, publish=True, title=f"Child {i}", parent_id=series.pk)
    return f"/api/v1/events/{series.pk}/children"


def _event(org):
    event = org.events.filter(title="Main").first()
    if event is None:
        event = make_event(org, publish=True, title="Main", capacity=None)
        speaker = services.speaker_create(org=org, actor=None, name="Grace", company="Navy", email="", bio="")
        talk = _talk(event, "Keynote")
        services.session_update(org=org, actor=None, session_id=talk.pk, speaker_ids=[speaker.pk])
    return event


def sessions(org, n: int, offset: int) -> str:
    event = _event(org)
    speaker = services.speaker_create(org=org, actor=None, name=f"S{offset}", company="", email="", bio="")
    for i in range(offset, offset + n - (1 if offset == 0 else 0)):  # the keynote is the first one
        talk = _talk(event, f"Talk {i}")
        services.session_update(org=org, actor=None, session_id=talk.pk, speaker_ids=[speaker.pk])
    return f"/api/v1/events/{event.pk}/sessions"


def registrations(org, n: int, offset: int) -> str:
    event = _event(org)
    for i in range(offset, offset + n):
        _register(event, i)
    return f"/api/v1/registrations?eventId={event.pk}"


def attendees(org, n: int, offset: int) -> str:
    registrations(org, n, offset)
    return f"/api/v1/events/{_event(org).pk}/attendees"


def payments(org, n: int, offset: int) -> str:
    from events.services_payments import payment_record

    event = _event(org)
    for i in range(offset, offset + n):
        payment_record(org=org, actor=None, registration_id=_register(event, i).pk, amount="5.00", reference=f"R{i}")
    return "/api/v1/payments"


def users(org, n: int, offset: int) -> str:
    for _ in range(n):
        make_member(org, Role.VIEWER)
    return "/api/v1/users"


def webhooks(org, n: int, offset: int) -> str:
    for i in range(offset, offset + n):
        integration_services.webhook_endpoint_create(
            org=org, actor=None, url=f"https://hooks.example.com/{i}", event_types=["event.created"], description=""
        )
    return "/api/v1/webhooks"


def deliveries(org, n: int, offset: int) -> str:
    endpoint = org.webhook_endpoints.first() if hasattr(org, "webhook_endpoints") else None
    if endpoint is None:
        endpoint = integration_services.webhook_endpoint_create(
            org=org, actor=None, url="https://hooks.example.com/x", event_types=[], description=""
        )
    for _ in range(n):
        event = OutboxEvent.objects.create(
            organization=org, event_type="event.created", payload={"id": 1}, dispatched_at=timezone.now()
        )
        delivery = WebhookDelivery.objects.create(
            organization=org, endpoint=endpoint, outbox_event=event, status=DeliveryStatus.FAILED, attempt_count=2
        )
        for code in (500, 502):
            WebhookAttempt.objects.create(organization=org, delivery=delivery, status_code=code, duration_ms=9)
    return f"/api/v1/webhooks/{endpoint.pk}/deliveries"


LISTS: list[Callable] = [events, children, sessions, registrations, attendees, payments, users, webhooks, deliveries]


def count_queries(client, url: str) -> tuple[int, int]:
    """(queries, items) of one GET, after a warm-up request."""
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"pageSize": 100})
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), len(response.json()["data"])


@pytest.mark.parametrize("make", LISTS, ids=lambda f: f.__name__)
def test_list_query_count_does_not_grow_with_items(org, api_client, make):
    url = make(org, 1, 0)
    one, items_one = count_queries(api_client, url)

    make(org, MANY - 1, 1)
    many, items_many = count_queries(api_client, url)

    assert items_many >= MANY > items_one >= 1
    assert many == one


@pytest.mark.parametrize("make", [events, registrations], ids=lambda f: f.__name__)
def test_cursor_and_csv_query_counts_do_not_grow_with_items(org, api_client, make):
    url = make(org, 1, 0)
    sep = "&" if "?" in url else "?"

    def counted(extra: str, headers=None) -> int:
        api_client.get(url + sep + extra, headers=headers)
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(url + sep + extra, headers=headers)
            if response.streaming:
                b"".join(response.streaming_content)
        return len(ctx.captured_queries)

    one = (counted("cursor=&limit=100"), counted("x=1", {"Accept": "text/csv"}))
    make(org, MANY - 1, 1)

    assert (counted("cursor=&limit=100"), counted("x=1", {"Accept": "text/csv"})) == one
