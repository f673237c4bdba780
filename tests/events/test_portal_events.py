"""The events list and the event create / edit / publish / cancel pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from events.models import Event, EventStatus
from integrations.models import OutboxEvent
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member, make_ticket_type

pytestmark = pytest.mark.django_db


def url(name, org, **kwargs):
    return reverse(f"events:{name}", kwargs={"org_slug": org.slug, **kwargs})


def form_data(**overrides):
    start = (timezone.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    data = {
        "title": "Spring Summit",
        "slug": "",
        "description": "",
        "timezone": "Europe/Berlin",
        "starts_at": start.strftime("%Y-%m-%dT09:00"),
        "ends_at": start.strftime("%Y-%m-%dT17:00"),
        "venue_name": "Hall 1",
        "venue_address": "",
        "online_url": "",
        "parent": "",
    }
    data.update(overrides)
    return data


def titles(response) -> list[str]:
    return [e.title for e in response.context["page"]]


def test_event_list_searches_filters_and_sorts(org, organizer_client):
    make_event(org, title="Alpha meetup", days=5)
    make_event(org, title="Beta conference", days=3, publish=True)
    make_event(org, title="Gamma meetup", days=9)

    assert titles(organizer_client.get(url("event-list", org), {"q": "meetup"})) == ["Alpha meetup", "Gamma meetup"]
    assert titles(organizer_client.get(url("event-list", org), {"status": "published"})) == ["Beta conference"]
    assert titles(organizer_client.get(url("event-list", org), {"sort": "-title"})) == [
        "Gamma meetup",
        "Beta conference",
        "Alpha meetup",
    ]
    assert titles(organizer_client.get(url("event-list", org))) == ["Beta conference", "Alpha meetup", "Gamma meetup"]


def test_event_list_htmx_request_gets_only_the_table_fragment(org, organizer_client):
    make_event(org, title="Alpha meetup")

    response = organizer_client.get(url("event-list", org), {"q": "alpha"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div class="card flush" id="event-table">')
    assert "<html" not in html
    assert "Alpha meetup" in html


def test_event_list_paginates_and_keeps_filters_in_the_links(org, organizer_client):
    for i in range(23):
        make_event(org, title=f"Meetup {i:02d}", days=i + 1)

    response = organizer_client.get(url("event-list", org), {"q": "Meetup", "page": 2})

    assert titles(response) == ["Meetup 20", "Meetup 21", "Meetup 22"]
    assert 'href="?q=Meetup&page=1"' in response.content.decode()


def test_event_list_query_count_does_not_grow_with_events(org, organizer_client):
    make_event(org)
    with CaptureQueriesContext(connection) as one:
        organizer_client.get(url("event-list", org))
    make_event(org, publish=True)
    make_event(org)
    with CaptureQueriesContext(connection) as three:
        response = organizer_client.get(url("event-list", org))

    assert len(titles(response)) == 3
    assert len(three) == len(one)


def test_event_create_saves_times_in_the_events_time_zone(org, organizer_client):
    response = organizer_client.post(url("event-create", org), form_data())

    event = Event.objects.for_org(org).get()
    assert response.status_code == 302
    assert response["Location"] == url("event-detail", org, event_id=event.pk)
    assert event.status == EventStatus.DRAFT
    assert event.slug == "spring-summit"
    assert timezone.localtime(event.starts_at, event.tz).hour == 9
    assert OutboxEvent.objects.for_org(org).get().event_type == "event.created"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"ends_at": "2020-01-01T10:00"}, "ends_at", "The event must end after it starts."),
        ({"venue_name": "", "online_url": ""}, "venue_name", "Give a venue, an online URL, or both."),
        ({"online_url": "not a url", "venue_name": ""}, "online_url", "Enter a valid URL."),
        ({"starts_at": "tomorrow"}, "starts_at", "Enter a valid date/time."),
    ],
)
def test_event_create_shows_errors_beside_the_field_and_saves_nothing(org, organizer_client, overrides, field, message):
    response = organizer_client.post(url("event-create", org), form_data(**overrides))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert f'id="field-{field}"' in response.content.decode()
    assert Event.objects.for_org(org).count() == 0
    assert OutboxEvent.objects.count() == 0


def test_event_create_refuses_a_public_address_already_used(org, organizer_client):
    make_event(org, title="Taken", slug="taken")

    response = organizer_client.post(url("event-create", org), form_data(slug="taken"))

    assert response.context["form"].errors["slug"] == ["Another event already uses this address."]
    assert Event.objects.for_org(org).count() == 1


def test_event_edit_updates_and_publishes_event_updated(org, organizer_client):
    event = make_event(org, title="Old title")
    OutboxEvent.objects.all().delete()
    local_start = timezone.localtime(event.starts_at, event.tz)

    response = organizer_client.post(
        url("event-edit", org, event_id=event.pk),
        form_data(
            title="New title",
            slug=event.slug,
            timezone=event.timezone,
            starts_at=local_start.strftime("%Y-%m-%dT%H:%M"),
            ends_at=(local_start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
        ),
    )

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.title == "New title"
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == ["event.updated"]


def test_event_edit_form_shows_times_in_the_events_time_zone(org, organizer_client):
    event = make_event(org, timezone="America/New_York")

    response = organizer_client.get(url("event-edit", org, event_id=event.pk))

    expected = timezone.localtime(event.starts_at, event.tz).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{expected}"' in response.content.decode()


def test_publish_asks_first_then_publishes(org, organizer_client):
    event = make_event(org)
    make_ticket_type(event)

    confirm = organizer_client.get(url("event-publish", org, event_id=event.pk))
    event.refresh_from_db()
    assert confirm.status_code == 200
    assert "Yes, publish" in confirm.content.decode()
    assert event.status == EventStatus.DRAFT

    response = organizer_client.post(url("event-publish", org, event_id=event.pk))

    event.refresh_from_db()
    assert response.status_code == 302
    assert event.status == EventStatus.PUBLISHED


def test_publish_without_ticket_types_explains_why(org, organizer_client):
    event = make_event(org)

    response = organizer_client.post(url("event-publish", org, event_id=event.pk))

    event.refresh_from_db()
    assert event.status == EventStatus.DRAFT
    assert "Add at least one ticket type before publishing" in response.content.decode()


def test_cancel_needs_a_reason_and_the_confirmation(org, organizer_client):
    event = make_event(org, publish=True)

    no_confirm = organizer_client.post(url("event-cancel", org, event_id=event.pk), {"reason": "Storm"})
    no_reason = organizer_client.post(url("event-cancel", org, event_id=event.pk), {"reason": " ", "confirm": "on"})
    event.refresh_from_db()
    assert event.status == EventStatus.PUBLISHED
    assert list(no_confirm.context["form"].errors) == ["confirm"]
    assert list(no_reason.context["form"].errors) == ["reason"]

    organizer_client.post(url("event-cancel", org, event_id=event.pk), {"reason": "Storm", "confirm": "on"})

    event.refresh_from_db()
    assert (event.status, event.cancellation_reason) == (EventStatus.CANCELLED, "Storm")


def test_viewers_see_events_but_no_edit_controls(org):
    event = make_event(org)
    client = logged_in_client(make_member(org, Role.VIEWER))

    listing = client.get(url("event-list", org)).content.decode()
    detail = client.get(url("event-detail", org, event_id=event.pk)).content.decode()

    assert event.title in listing
    assert "New event" not in listing
    assert "Publish…" not in detail
    assert client.post(url("event-create", org), form_data()).status_code == 403
