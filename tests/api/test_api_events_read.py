"""/api/v1/events reads: list filters, a series' events and an event's statistics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events import services
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


def register(tt, email: str):
    return services.registration_create(
        org=tt.organization, actor=None, ticket_type_id=tt.pk, name=email.split("@")[0], email=email
    )


def test_list_filters_by_start_date_range(org, api_client):
    early, middle, late = (make_event(org, days=d) for d in (2, 5, 9))
    after = (middle.starts_at - timedelta(hours=1)).isoformat()
    before = late.starts_at.isoformat()

    response = api_client.get("/api/v1/events", {"startsAfter": after, "startsBefore": before})

    assert ids(response) == [middle.pk]  # from inclusive, to exclusive
    assert early.pk not in ids(api_client.get("/api/v1/events", {"startsAfter": after}))


def test_list_filters_by_status_series_and_text(org, api_client):
    series = make_event(org, title="Meetups")
    child = make_event(org, title="Meetup Berlin", parent_id=series.pk)
    published = make_event(org, title="Gala", publish=True, venue_name="Opera")

    assert ids(api_client.get("/api/v1/events?status=published")) == [published.pk]
    assert ids(api_client.get(f"/api/v1/events?seriesId={series.pk}")) == [child.pk]
    assert ids(api_client.get("/api/v1/events?q=opera")) == [published.pk]


def test_children_lists_the_series_events_with_pagination(org, api_client):
    series = make_event(org, title="Meetups", days=1)
    children = [make_event(org, title=f"Meetup {i}", parent_id=series.pk, days=i + 2) for i in range(3)]
    make_event(org, title="Unrelated")

    response = api_client.get(f"/api/v1/events/{series.pk}/children?pageSize=2")

    assert ids(response) == [children[0].pk, children[1].pk]
    assert response.json()["pagination"]["total"] == 3
    assert ids(api_client.get(f"/api/v1/events/{series.pk}/children?sort=-startsAt&page=2&pageSize=2")) == [children[0].pk]
    assert ids(api_client.get(f"/api/v1/events/{children[0].pk}/children")) == []


def test_children_of_another_organizations_event_answer_404(api_client, other_org):
    foreign = other_org.events.get()

    assert_envelope(api_client.get(f"/api/v1/events/{foreign.pk}/children"), 404, "RESOURCE_NOT_FOUND")
    assert_envelope(api_client.get(f"/api/v1/events/{foreign.pk}/statistics"), 404, "RESOURCE_NOT_FOUND")


def test_statistics_count_registrations_seats_and_check_ins(org, api_client):
    event = make_event(org, publish=True, capacity=10)
    general = event.ticket_types.get()
    vip = make_ticket_type(event, name="VIP", capacity=None)
    regs = [register(general, f"p{i}@example.com") for i in range(4)]
    register(vip, "vip@example.com")
    services.registration_cancel(org=org, actor=None, registration_id=regs[3].pk)
    services.checkin_perform(org=org, actor=None, registration_id=regs[0].pk)

    body = api_client.get(f"/api/v1/events/{event.pk}/statistics").json()

    assert body == {
        "eventId": event.pk,
        "registrations": {"total": 5, "pendingPayment": 0, "confirmed": 4, "cancelled": 1},
        "ticketTypes": [
            {"id": general.pk, "name": "General", "capacity": 10, "taken": 3, "seatsLeft": 7},
            {"id": vip.pk, "name": "VIP", "capacity": None, "taken": 1, "seatsLeft": None},
        ],
        "seatsLeft": None,  # VIP has no limit
        "checkedIn": 1,
        "checkInRate": 0.25,
        "links": {"self": f"/api/v1/events/{event.pk}/statistics", "event": f"/api/v1/events/{event.pk}"},
    }


def test_statistics_add_up_seats_when_every_ticket_type_is_limited(org, api_client):
    event = make_event(org, publish=True, capacity=3)
    make_ticket_type(event, name="Late", capacity=2)
    register(event.ticket_types.first(), "a@example.com")

    body = api_client.get(f"/api/v1/events/{event.pk}/statistics").json()

    assert (body["seatsLeft"], body["checkInRate"]) == (4, 0.0)
