"""Calendar files: what a calendar app reads back from them, the public downloads, and the organization feed."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from accounts.models import Role
from events import calendars, services
from events.models import Event
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def _session(event, title="Talk", *, starts_at=None, hours=0, minutes=45):
    starts_at = starts_at or event.starts_at + timedelta(hours=hours)
    return services.session_create(
        org=event.organization,
        actor=None,
        event_id=event.pk,
        title=title,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
    )


def _parse(content: bytes) -> Calendar:
    return Calendar.from_ical(content)


def _vevents(content: bytes) -> dict[str, object]:
    return {str(e["UID"]): e for e in _parse(content).walk("VEVENT")}


def _fresh(event: Event) -> Event:
    return Event.objects.select_related("organization").get(pk=event.pk)


# --- Building the files ---------------------------------------------------------------------------


def test_event_file_parses_back_with_the_event_and_its_sessions(org):
    event = make_event(org, publish=True, title="Python Summit", description="Talks & workshops.")
    keynote = _session(event, "Keynote")
    dropped = _session(event, "Dropped talk", hours=2)
    services.session_cancel(org=org, actor=None, session_id=dropped.pk)

    calendar = _parse(calendars.event_ics_build(event=_fresh(event)))

    assert (str(calendar["VERSION"]), str(calendar["METHOD"]), str(calendar["PRODID"])) == ("2.0", "PUBLISH", calendars.PRODID)
    by_uid = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert list(by_uid) == [f"event-{event.pk}@localhost", f"session-{keynote.pk}@localhost", f"session-{dropped.pk}@localhost"]
    main = by_uid[f"event-{event.pk}@localhost"]
    assert str(main["SUMMARY"]) == "Python Summit"
    assert str(main["LOCATION"]) == "Main hall, 1 Main St"
    assert str(main["URL"]) == f"http://localhost:8000/e/{org.slug}/{event.slug}/"
    assert "Talks & workshops." in str(main["DESCRIPTION"])
    assert main.start == event.starts_at
    assert "DTSTAMP" in main
    assert [str(by_uid[uid]["STATUS"]) for uid in by_uid] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]


def test_times_carry_the_events_zone_with_a_vtimezone(org):
    event = make_event(org, publish=True, timezone="America/New_York")

    content = calendars.event_ics_build(event=_fresh(event))

    calendar = _parse(content)
    (vevent,) = calendar.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    assert b"DTSTART;TZID=America/New_York:" in content


def test_wall_clock_time_survives_a_daylight_saving_change(org):
    # Europe/Berlin moves its clocks forward on Sunday 28 March 2027 (02:00 → 03:00)
    starts = datetime(2027, 3, 27, 8, 0, tzinfo=BERLIN)
    event = make_event(org, timezone="Europe/Berlin", starts_at=starts, ends_at=starts + timedelta(days=2, hours=10))
    saturday = _session(event, "Saturday at ten", starts_at=datetime(2027, 3, 27, 10, 0, tzinfo=BERLIN))
    sunday = _session(event, "Sunday at ten", starts_at=datetime(2027, 3, 28, 10, 0, tzinfo=BERLIN))

    calendar = _parse(calendars.event_ics_build(event=_fresh(event)))

    sessions = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    sat, sun = sessions[f"session-{saturday.pk}@localhost"], sessions[f"session-{sunday.pk}@localhost"]
    assert (sat.start.hour, sun.start.hour) == (10, 10)
    assert (sat.start.utcoffset(), sun.start.utcoffset()) == (timedelta(hours=1), timedelta(hours=2))
    (vtimezone,) = calendar.walk("VTIMEZONE")
    assert {c.name for c in vtimezone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def test_sequence_grows_and_uid_stays_after_an_update(org):
    event = make_event(org, publish=True)
    before = _vevents(calendars.event_ics_build(event=_fresh(event)))

    services.event_update(org=org, actor=None, event_id=event.pk, venue_name="Hall B")
    after = _vevents(calendars.event_ics_build(event=_fresh(event)))

    uid = f"event-{event.pk}@localhost"
    assert list(before) == list(after) == [uid]
    assert int(after[uid]["SEQUENCE"]) == int(before[uid]["SEQUENCE"]) + 1
    assert str(after[uid]["LOCATION"]) == "Hall B, 1 Main St"


def test_cancelled_event_is_status_cancelled_with_its_sessions_at_a_higher_sequence(org):
    event = make_event(org, publish=True)
    _session(event)
    before = _parse(calendars.event_ics_build(event=_fresh(event))).walk("VEVENT")

    services.event_cancel(org=org, actor=None, event_id=event.pk, reason="Storm")

    after = _parse(calendars.event_ics_build(event=_fresh(event))).walk("VEVENT")
    assert [str(e["STATUS"]) for e in after] == ["CANCELLED", "CANCELLED"]
    assert [int(e["SEQUENCE"]) for e in after] == [int(e["SEQUENCE"]) + 1 for e in before]


def test_online_event_location_is_its_url(org):
    event = make_event(org, venue_name="", venue_address="", online_url="https://meet.example.com/room")

    (vevent,) = _parse(calendars.event_ics_build(event=_fresh(event))).walk("VEVENT")

    assert str(vevent["LOCATION"]) == "https://meet.example.com/room"


def test_registration_file_has_the_event_and_chosen_sessions_and_cancels_them(org):
    event = make_event(org, publish=True)
    chosen = _session(event, "Chosen")
    _session(event, "Not chosen", hours=2)
    reg = services.registration_create(
        org=org,
        actor=None,
        ticket_type_id=event.ticket_types.first().pk,
        name="Ada",
        email="ada@example.com",
        session_ids=[chosen.pk],
    )

    before = _vevents(calendars.registration_ics_build(registration=reg))
    services.registration_cancel(org=org, actor=None, registration_id=reg.pk)
    reg.refresh_from_db()
    after = _vevents(calendars.registration_ics_build(registration=reg))

    assert list(before) == [f"event-{event.pk}@localhost", f"session-{chosen.pk}@localhost"]
    assert [str(e["STATUS"]) for e in after.values()] == ["CANCELLED", "CANCELLED"]
    assert all(int(after[uid]["SEQUENCE"]) > int(before[uid]["SEQUENCE"]) for uid in before)


def test_google_and_outlook_links_carry_the_event_in_utc(org):
    starts = datetime(2027, 6, 1, 9, 30, tzinfo=BERLIN)
    event = _fresh(make_event(org, title="Summit", starts_at=starts, ends_at=starts + timedelta(hours=2)))

    links = calendars.calendar_links(event)

    google = parse_qs(urlsplit(links["google"]).query)
    assert links["google"].startswith("https://calendar.google.com/calendar/render?")
    assert (google["action"], google["text"], google["dates"]) == (
        ["TEMPLATE"],
        ["Summit"],
        ["20270601T073000Z/20270601T093000Z"],
    )
    assert google["location"] == ["Main hall, 1 Main St"]
    outlook = parse_qs(urlsplit(links["outlook"]).query)
    assert links["outlook"].startswith("https://outlook.live.com/calendar/0/deeplink/compose?")
    assert (outlook["subject"], outlook["startdt"], outlook["enddt"]) == (
        ["Summit"],
        ["2027-06-01T07:30:00Z"],
        ["2027-06-01T09:30:00Z"],
    )


# --- Public downloads -----------------------------------------------------------------------------


def test_public_event_calendar_downloads_as_text_calendar(published_event):
    event = published_event

    response = Client().get(reverse("public:event-calendar", args=[event.organization.slug, event.slug]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'
    assert list(_vevents(response.content)) == [f"event-{event.pk}@localhost"]


def test_draft_event_has_no_public_calendar(org):
    event = make_event(org)

    response = Client().get(reverse("public:event-calendar", args=[org.slug, event.slug]))

    assert response.status_code == 404


def test_public_session_calendar_only_for_that_events_sessions(org, published_event):
    other = make_event(org, publish=True)
    session = _session(other)

    own = Client().get(reverse("public:session-calendar", args=[org.slug, other.slug, session.pk]))
    wrong_event = Client().get(reverse("public:session-calendar", args=[org.slug, published_event.slug, session.pk]))

    assert own.status_code == 200
    assert list(_vevents(own.content)) == [f"session-{session.pk}@localhost"]
    assert wrong_event.status_code == 404


def test_registration_calendar_needs_the_confirmation_code(published_event):
    event = published_event
    reg = services.registration_create(
        org=event.organization, actor=None, ticket_type_id=event.ticket_types.first().pk, name="Ada", email="ada@example.com"
    )

    right = Client().get(reverse("public:registration-calendar", args=[event.organization.slug, event.slug, reg.code]))
    wrong = Client().get(reverse("public:registration-calendar", args=[event.organization.slug, event.slug, "ZZZZZZZZ"]))

    assert right.status_code == 200
    assert right["Content-Type"] == "text/calendar; charset=utf-8"
    assert wrong.status_code == 404


def test_event_and_confirmation_pages_offer_add_to_calendar(published_event):
    event = published_event
    org = event.organization
    reg = services.registration_create(
        org=org, actor=None, ticket_type_id=event.ticket_types.first().pk, name="Ada", email="ada@example.com"
    )

    page = Client().get(reverse("public:event", args=[org.slug, event.slug])).content.decode()
    done = Client().get(reverse("public:registration-done", args=[org.slug, event.slug, reg.code])).content.decode()

    assert f'href="/e/{org.slug}/{event.slug}/calendar.ics"' in page
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in page
    assert "https://outlook.live.com/calendar/0/deeplink/compose?" in page
    assert f'href="/e/{org.slug}/{event.slug}/registered/{reg.code}/calendar.ics"' in done
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in done


# --- The organization feed ------------------------------------------------------------------------


def test_feed_lists_published_and_cancelled_events_not_drafts(org):
    published = make_event(org, publish=True, title="On")
    cancelled = make_event(org, publish=True, title="Off")
    services.event_cancel(org=org, actor=None, event_id=cancelled.pk, reason="Storm")
    make_event(org, title="Draft")

    response = Client().get(calendars.feed_path(org))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = _parse(response.content)
    assert str(calendar["X-WR-CALNAME"]) == org.name
    statuses = {str(e["UID"]): str(e["STATUS"]) for e in calendar.walk("VEVENT")}
    assert statuses == {f"event-{published.pk}@localhost": "CONFIRMED", f"event-{cancelled.pk}@localhost": "CANCELLED"}


def test_feed_with_a_wrong_token_is_a_404(org, other_org):
    make_event(org, publish=True)

    wrong = Client().get(reverse("calendar-feed", args=[org.slug, "not-the-token"]))
    others = Client().get(reverse("calendar-feed", args=[org.slug, other_org.calendar_token]))

    assert (wrong.status_code, others.status_code) == (404, 404)


def test_events_list_links_to_the_feed_page(org, organizer_client):
    html = organizer_client.get(reverse("events:event-list", args=[org.slug])).content.decode()

    assert f'href="{reverse("events:calendar-feed", args=[org.slug])}"' in html


def test_feed_page_shows_a_webcal_link_and_reset_rotates_it(org, organizer_client):
    old_path = calendars.feed_path(org)

    page = organizer_client.get(reverse("events:calendar-feed", args=[org.slug]))
    reset = organizer_client.post(reverse("events:calendar-feed-reset", args=[org.slug]))
    org.refresh_from_db()

    assert f'value="webcal://localhost:8000{old_path}"' in page.content.decode()
    assert reset.status_code == 302
    assert Client().get(old_path).status_code == 404
    assert Client().get(calendars.feed_path(org)).status_code == 200


@pytest.mark.parametrize(
    ("role", "page", "reset"), [(Role.VIEWER, 200, 403), (Role.DEVELOPER, 200, 403), (Role.CHECKIN, 403, 403)]
)
def test_feed_page_and_reset_permissions(org, role, page, reset):
    client = logged_in_client(make_member(org, role))
    token = org.calendar_token

    seen = client.get(reverse("events:calendar-feed", args=[org.slug]))
    tried = client.post(reverse("events:calendar-feed-reset", args=[org.slug]))
    org.refresh_from_db()

    assert (seen.status_code, tried.status_code) == (page, reset)
    assert org.calendar_token == token


def test_another_organizations_feed_page_is_a_404(organizer_client, other_org):
    assert organizer_client.get(reverse("events:calendar-feed", args=[other_org.slug])).status_code == 404
