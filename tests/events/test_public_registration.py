"""The public event page, its registration form, and the confirmation page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Registration
from integrations.models import OutboxEvent
from portal.errors import Busy
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db


def _page(event) -> str:
    return reverse("public:event", args=[event.organization.slug, event.slug])


def _session(event, title="Talk", hours=0, **fields):
    return services.session_create(
        org=event.organization,
        actor=None,
        event_id=event.pk,
        title=title,
        starts_at=event.starts_at + timedelta(hours=hours),
        ends_at=event.starts_at + timedelta(hours=hours, minutes=45),
        **fields,
    )


def _register(event, **data):
    form = {"name": "Ada Lovelace", "email": "ada@example.com", "ticket_type": event.ticket_types.first().pk}
    form.update(data)
    return Client().post(_page(event), form)


def _field_errors(html: str, field: str) -> str:
    """The HTML of one field's wrapper (its errors are rendered inside it)."""
    start = html.index(f'id="field-{field}"')
    return html[start : html.index("</fieldset>", start) if "</fieldset>" in html[start:] else None]


# --- The page -------------------------------------------------------------------------------------


def test_event_page_shows_dates_in_the_events_time_zone_with_its_name(org):
    start = timezone.now().replace(microsecond=0, second=0, minute=0) + timedelta(days=30)
    start = start.replace(hour=8)  # 08:00 UTC
    event = make_event(
        org,
        publish=True,
        title="Berlin Summit",
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        timezone="Europe/Berlin",
        venue_name="Kulturbrauerei",
        venue_address="Schönhauser Allee 36",
    )

    response = Client().get(_page(event))

    html = response.content.decode()
    local = timezone.localtime(start, event.tz)
    assert response.status_code == 200
    assert "Berlin Summit" in html
    assert f"{local:%H}:00 – {local.hour + 8:02d}:00" in html
    assert "Europe/Berlin" in html
    assert "Kulturbrauerei, Schönhauser Allee 36" in html


def test_event_page_groups_sessions_by_day_with_room_and_speakers(org):
    event = make_event(
        org, publish=True, starts_at=timezone.now() + timedelta(days=20), ends_at=timezone.now() + timedelta(days=21, hours=8)
    )
    grace = services.speaker_create(org=org, actor=None, name="Grace Hopper", company="US Navy")
    _session(event, "Keynote", hours=1, room="Main hall", speaker_ids=[grace.pk])
    _session(event, "Day two", hours=25, room="Room B")

    response = Client().get(_page(event))

    days = response.context["days"]
    html = response.content.decode()
    assert [[s.title for s in sessions] for _day, sessions in days] == [["Keynote"], ["Day two"]]
    assert "Main hall · Grace Hopper (US Navy)" in html


def test_event_page_shows_ticket_prices_and_seats_left(org):
    event = make_event(org, publish=True, capacity=5)
    make_ticket_type(event, name="Supporter", price=Decimal("49.00"), capacity=None)
    services.registration_create(
        org=org, actor=None, ticket_type_id=event.ticket_types.first().pk, name="A", email="a@example.com"
    )

    html = Client().get(_page(event)).content.decode()

    assert "4 seats left" in html
    assert "49.00 EUR" in html
    assert "Free" in html


def test_a_draft_event_answers_404_publicly(org):
    event = make_event(org, publish=False)

    response = Client().get(_page(event))

    assert response.status_code == 404


def test_another_organizations_slug_does_not_find_the_event(org, other_org):
    event = make_event(org, publish=True)

    response = Client().get(reverse("public:event", args=[other_org.slug, event.slug]))

    assert response.status_code == 404


def test_a_cancelled_event_shows_the_reason_and_no_form(org, published_event):
    services.event_cancel(org=org, actor=None, event_id=published_event.pk, reason="The venue flooded.")

    response = Client().get(_page(published_event))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The venue flooded." in html
    assert 'data-testid="cancelled-banner"' in html
    assert 'name="ticket_type"' not in html


def test_when_no_sales_are_open_the_page_says_when_and_shows_no_form(org):
    event = make_event(org)
    start = timezone.now() + timedelta(days=2)
    make_ticket_type(event, name="Early", sales_start=start)
    services.event_publish(org=org, actor=None, event_id=event.pk)

    response = Client().get(_page(event))

    html = response.content.decode()
    assert response.context["closed_reason"] == "not_yet"
    assert 'name="ticket_type"' not in html
    assert f"Sales open on {timezone.localtime(start, event.tz):%-d %b %Y, %H:%M}" in html


def test_event_page_query_count_does_not_grow_with_ticket_types_and_sessions(org):
    small = make_event(org, publish=True, title="Small")
    _session(small, "Only talk")
    big = make_event(org, publish=True, title="Big")
    speakers = [services.speaker_create(org=org, actor=None, name=f"Speaker {i}") for i in range(3)]
    for i in range(2):
        make_ticket_type(big, name=f"Type {i}", price=Decimal("10"))
    for i in range(3):
        _session(big, f"Talk {i}", hours=i, speaker_ids=[s.pk for s in speakers])
    client, small_url, big_url = Client(), _page(small), _page(big)

    with CaptureQueriesContext(connection) as few:
        client.get(small_url)
    with CaptureQueriesContext(connection) as many:
        response = client.get(big_url)

    assert len(response.context["ticket_types"]) == 3
    assert len(many) == len(few)
    assert len(many) <= 4


# --- Registering ----------------------------------------------------------------------------------
def test_a_registration_post_query_count_does_not_grow_with_ticket_types_and_sessions(org):
    small = make_event(org, publish=True, title="Small")
    big = make_event(org, publish=True, title="Big")
    for i in range(2):
        make_ticket_type(big, name=f"Type {i}")
    for i in range(3):
        _session(big, f"Talk {i}", hours=i)
    posts = [
        (_page(e), {"name": "Ada", "email": "ada@example.com", "ticket_type": e.ticket_types.first().pk}) for e in (small, big)
    ]
    client = Client()

    with CaptureQueriesContext(connection) as few:
        first = client.post(*posts[0])
    with CaptureQueriesContext(connection) as many:
        second = client.post(*posts[1])

    assert (first.status_code, second.status_code) == (303, 303)
    assert len(many) == len(few)


def test_registration_creates_one_registration_and_its_outbox_rows(org, published_event, django_capture_on_commit_callbacks):
    before = OutboxEvent.objects.filter(organization=org).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = _register(published_event, email="Ada@Example.com")

    reg = Registration.objects.get(event=published_event)
    assert response.status_code == 303
    assert response["Location"] == reverse("public:registration-done", args=[org.slug, published_event.slug, reg.code])
    assert (reg.name, reg.email, reg.status) == ("Ada Lovelace", "ada@example.com", "confirmed")
    new_events = list(OutboxEvent.objects.filter(organization=org).order_by("created_at", "event_type")[before:])
    assert sorted(e.event_type for e in new_events) == ["registration.confirmed", "registration.created"]


def test_registration_with_sessions_records_the_chosen_sessions(org, published_event):
    talk, workshop = _session(published_event, "Talk"), _session(published_event, "Workshop", hours=1)

    _register(published_event, sessions=[workshop.pk])

    reg = Registration.objects.get(event=published_event)
    assert [s.title for s in reg.sessions.all()] == ["Workshop"]
    assert talk.registrations.count() == 0


def test_registering_again_with_the_same_email_returns_the_existing_registration(org, published_event):
    first = _register(published_event)
    before = OutboxEvent.objects.filter(organization=org).count()

    again = _register(published_event, name="Ada L.")
    page = Client().get(again["Location"])

    assert Registration.objects.filter(event=published_event).count() == 1
    assert again["Location"] == first["Location"] + "?again=1"
    assert OutboxEvent.objects.filter(organization=org).count() == before
    assert "You were already registered" in page.content.decode()


def test_a_sold_out_ticket_shows_the_error_beside_the_ticket_choice(org):
    event = make_event(org, publish=True, capacity=1)
    make_ticket_type(event, name="Other", capacity=None)
    services.registration_create(
        org=org, actor=None, ticket_type_id=event.ticket_types.first().pk, name="A", email="a@example.com"
    )

    response = _register(event)

    html = response.content.decode()
    assert response.status_code == 200
    assert Registration.objects.filter(event=event).count() == 1
    assert "<li>“General” is sold out.</li>" in _field_errors(html, "ticket_type")
    assert "Sold out" in html


@pytest.mark.parametrize(
    ("window", "state_text"),
    [
        ({"sales_start": timezone.now() + timedelta(days=1)}, "Sales open on"),
        ({"sales_end": timezone.now() - timedelta(minutes=1)}, "Sales ended"),
    ],
)
def test_a_ticket_outside_its_sales_window_is_refused_beside_the_ticket_choice(org, window, state_text):
    event = make_event(org, publish=True)
    closed = make_ticket_type(event, name="Closed", **window)

    response = _register(event, ticket_type=closed.pk)

    html = response.content.decode()
    assert Registration.objects.filter(event=event).count() == 0
    assert "<li>This ticket is not available any more.</li>" in _field_errors(html, "ticket_type")
    assert state_text in html


def test_a_full_session_shows_the_error_beside_the_sessions(org, published_event):
    talk = _session(published_event, "Tiny room", capacity=1)
    services.registration_create(
        org=org,
        actor=None,
        ticket_type_id=published_event.ticket_types.first().pk,
        name="A",
        email="a@example.com",
        session_ids=[talk.pk],
    )

    response = _register(published_event, sessions=[talk.pk])

    html = response.content.decode()
    assert Registration.objects.filter(event=published_event).count() == 1
    assert "<li>The session “Tiny room” is full.</li>" in _field_errors(html, "sessions")


def test_missing_name_and_email_are_shown_beside_their_fields(published_event):
    response = _register(published_event, name="", email="not-an-email")

    html = response.content.decode()
    assert Registration.objects.count() == 0
    assert '<div class="field has-error" id="field-name">' in html
    assert '<div class="field has-error" id="field-email">' in html


def test_a_busy_answer_asks_to_try_again(published_event, monkeypatch):
    def busy(**kwargs):
        raise Busy("lock timeout")

    monkeypatch.setattr("events.views.public.services.registration_create", busy)

    response = _register(published_event)

    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert "we are busy, please try again in a moment" in response.content.decode()


# --- Confirmation ---------------------------------------------------------------------------------


def test_confirmation_page_shows_the_code_ticket_and_sessions(org, published_event):
    talk = _session(published_event, "Opening keynote", room="Main hall")
    done = _register(published_event, sessions=[talk.pk])
    reg = Registration.objects.get(event=published_event)

    response = Client().get(done["Location"])

    html = response.content.decode()
    assert response.status_code == 200
    assert "You're registered" in html
    assert f'<code class="reg-code" data-testid="registration-code">{reg.code}</code>' in html
    assert "Ada Lovelace" in html
    assert "General" in html
    assert "Opening keynote" in html
    assert "Main hall" in html


def test_confirmation_of_a_paid_ticket_says_payment_comes_later(org):
    event = make_event(org, publish=True, price=Decimal("25.00"))

    done = _register(event)
    html = Client().get(done["Location"]).content.decode()

    assert Registration.objects.get(event=event).status == "pending_payment"
    assert "pending payment" in html
    assert "payment comes later" in html
    assert "You're registered" not in html


def test_confirmation_with_an_unknown_code_answers_404(published_event):
    response = Client().get(
        reverse("public:registration-done", args=[published_event.organization.slug, published_event.slug, "NOPE2345"])
    )

    assert response.status_code == 404


def test_confirmation_code_of_another_event_answers_404(org, published_event):
    other = make_event(org, publish=True, title="Other")
    _register(other)
    code = Registration.objects.get(event=other).code

    response = Client().get(reverse("public:registration-done", args=[org.slug, published_event.slug, code]))

    assert response.status_code == 404


def test_a_double_submit_for_the_last_seat_gets_the_registration_not_sold_out(org):
    event = make_event(org, publish=True, capacity=1)
    first = _register(event)

    again = _register(event)

    assert Registration.objects.filter(event=event).count() == 1
    assert again.status_code == 303
    assert again["Location"] == first["Location"] + "?again=1"


def test_when_every_ticket_is_sold_out_the_page_says_so_and_shows_no_form(org):
    event = make_event(org, publish=True, capacity=1)
    _register(event)

    response = Client().get(_page(event))

    html = response.content.decode()
    assert response.context["closed_reason"] == "sold_out"
    assert "This event is sold out." in html
    assert 'name="ticket_type"' not in html
