"""Calendar files (iCalendar, RFC 5545) for events, sessions, registrations and an organization's feed.

Times are written on the event's own wall clock (``DTSTART;TZID=Europe/Berlin:…``) with a VTIMEZONE for
every zone used, so a calendar keeps 10:00 at 10:00 across a daylight-saving change. UIDs are stable
(``event-<id>@<host>``, ``session-<id>@<host>``) and SEQUENCE grows with every change, so an imported or
subscribed calendar updates the entry it already has instead of adding a second one. Cancelled events and
sessions stay in the files as ``STATUS:CANCELLED``: a subscriber's calendar then shows the cancellation.

Also here: the "add to calendar" links of Google Calendar and Outlook (plain links the attendee follows).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization, User, calendar_feed_token
from accounts.services import audit_log
from events.models import Event, EventStatus, Registration, RegistrationStatus, Session

if TYPE_CHECKING:
    import icalendar

PRODID = "-//Convene//Convene events//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
#: how far back the organization feed reaches (events that ended longer ago drop out of it)
FEED_HISTORY = timedelta(days=365)


# --- Addresses ------------------------------------------------------------------------------------


def site_url(path: str = "") -> str:
    """An absolute URL on this install (``settings.SITE_URL``): e-mails and calendar files have no request."""
    return settings.SITE_URL.rstrip("/") + path


def uid_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "convene.localhost"


def event_uid(event_id: int) -> str:
    return f"event-{event_id}@{uid_host()}"


def session_uid(session_id: int) -> str:
    return f"session-{session_id}@{uid_host()}"


def event_public_path(event: Event) -> str:
    return reverse("public:event", args=[event.organization.slug, event.slug])


def event_calendar_path(event: Event) -> str:
    return reverse("public:event-calendar", args=[event.organization.slug, event.slug])


def session_calendar_path(session: Session) -> str:
    event = session.event
    return reverse("public:session-calendar", args=[event.organization.slug, event.slug, session.pk])


def registration_calendar_path(registration: Registration, event: Event | None = None) -> str:
    event = event or registration.event
    return reverse("public:registration-calendar", args=[event.organization.slug, event.slug, registration.code])


def feed_path(org: Organization) -> str:
    return reverse("calendar-feed", args=[org.slug, org.calendar_token])


def feed_webcal_url(org: Organization) -> str:
    """The subscription address calendar apps open (``webcal://`` is ``https://`` or ``http://`` for them)."""
    return "webcal://" + site_url(feed_path(org)).split("://", 1)[1]


def event_location(event: Event) -> str:
    """Venue and address, else the online URL: what a calendar shows under "where"."""
    if event.venue_name:
        return ", ".join(part for part in (event.venue_name, event.venue_address) if part)
    return event.online_url


def _event_description(event: Event) -> str:
    parts = []
    if event.is_cancelled:
        parts.append(f"Cancelled: {event.cancellation_reason}" if event.cancellation_reason else "Cancelled.")
    if event.description:
        parts.append(event.description.strip())
    if event.online_url and not event.is_cancelled:
        parts.append(f"Online: {event.online_url}")
    parts.append(f"Event page: {site_url(event_public_path(event))}")
    return "\n\n".join(parts)


def _session_description(session: Session, event: Event) -> str:
    parts = [f"Part of {event.title}."]
    speakers = ", ".join(f"{s.name} ({s.company})" if s.company else s.name for s in session.speakers.all())
    if speakers:
        parts.append(f"Speakers: {speakers}")
    if session.description:
        parts.append(session.description.strip())
    parts.append(f"Event page: {site_url(event_public_path(event))}")
    return "\n\n".join(parts)


# --- Components -----------------------------------------------------------------------------------


def _local(value: datetime, event: Event) -> datetime:
    return timezone.localtime(value, event.tz)


def _stamp() -> datetime:
    return timezone.now().replace(microsecond=0)


def _event_component(event: Event, *, sequence: int | None = None, cancelled: bool = False) -> icalendar.Event:
    from icalendar import Event as VEvent

    component = VEvent.new(
        uid=event_uid(event.pk),
        summary=event.title,
        start=_local(event.starts_at, event),
        end=_local(event.ends_at, event),
        stamp=_stamp(),
        sequence=event.sequence if sequence is None else sequence,
        location=event_location(event) or None,
        url=site_url(event_public_path(event)),
        description=_event_description(event),
        last_modified=event.updated_at.replace(microsecond=0),
    )
    component.add("STATUS", "CANCELLED" if (cancelled or event.is_cancelled) else "CONFIRMED")
    return component


def _session_component(
    session: Session, event: Event, *, sequence: int | None = None, cancelled: bool = False
) -> icalendar.Event:
    from icalendar import Event as VEvent

    where = event_location(event)
    component = VEvent.new(
        uid=session_uid(session.pk),
        summary=session.title,
        start=_local(session.starts_at, event),
        end=_local(session.ends_at, event),
        stamp=_stamp(),
        # the event's changes count too: cancelling the event cancels its sessions
        sequence=session.sequence + event.sequence if sequence is None else sequence,
        location=" · ".join(part for part in (session.room, where) if part) or None,
        url=site_url(event_public_path(event)),
        description=_session_description(session, event),
    )
    gone = cancelled or session.cancelled or event.is_cancelled
    component.add("STATUS", "CANCELLED" if gone else "CONFIRMED")
    return component


def _calendar(components: Iterable[icalendar.Event], *, uid: str, name: str | None = None, refresh: bool = False) -> bytes:
    from icalendar import Calendar

    components = list(components)
    calendar = Calendar.new(
        prodid=PRODID, method="PUBLISH", uid=uid, name=name, refresh_interval=timedelta(hours=1) if refresh else None
    )
    if name and "X-WR-CALNAME" not in calendar:
        calendar.add("X-WR-CALNAME", name)
    if refresh:
        calendar["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"
        calendar.add("X-PUBLISHED-TTL", "PT1H")  # the same hint in the older, widely read form
    for component in components:
        calendar.add_component(component)
    if components:
        # a VTIMEZONE per zone used, with the whole years' rules around the dates used
        years = [c.start.year for c in components] + [c.end.year for c in components]
        calendar.add_missing_timezones(first_date=date(min(years), 1, 1), last_date=date(max(years) + 1, 1, 1))
    return calendar.to_ical()


# --- Files ----------------------------------------------------------------------------------------


def _sessions_of(event: Event) -> list[Session]:
    return list(
        Session.objects.for_org(event.organization).filter(event=event).prefetch_related("speakers").order_by("starts_at", "id")
    )


def event_ics_build(*, event: Event) -> bytes:
    """The event and its sessions (cancelled ones as STATUS:CANCELLED)."""
    components = [_event_component(event)]
    components += [_session_component(s, event) for s in _sessions_of(event)]
    return _calendar(components, uid=f"calendar-{event_uid(event.pk)}", name=event.title)


def session_ics_build(*, session: Session) -> bytes:
    """One session (``session.event`` with its organization should be loaded)."""
    event = session.event
    return _calendar([_session_component(session, event)], uid=f"calendar-{session_uid(session.pk)}", name=session.title)


def registration_ics_build(*, registration: Registration) -> bytes:
    """What an attendee keeps in their calendar: the event and the sessions they chose.

    SEQUENCE adds the registration's own sequence to the event's (and sessions'), so cancelling the
    registration (which changes no event) still supersedes the copy the attendee imported before.
    """
    event = registration.event
    cancelled = registration.status == RegistrationStatus.CANCELLED
    offset = registration.sequence
    components = [_event_component(event, sequence=event.sequence + offset, cancelled=cancelled)]
    sessions = registration.sessions.all().prefetch_related("speakers").order_by("starts_at", "id")
    components += [
        _session_component(s, event, sequence=s.sequence + event.sequence + offset, cancelled=cancelled) for s in sessions
    ]
    return _calendar(components, uid=f"calendar-registration-{registration.pk}@{uid_host()}", name=event.title)


def feed_events(*, org: Organization, now: datetime | None = None) -> list[Event]:
    """The feed's events: published ones, and cancelled ones that were published (subscribers saw them),
    that ended less than a year ago."""
    since = (now or timezone.now()) - FEED_HISTORY
    return list(
        Event.objects.for_org(org)
        .filter(Q(status=EventStatus.PUBLISHED) | Q(status=EventStatus.CANCELLED, published_at__isnull=False))
        .filter(ends_at__gte=since)
        .select_related("organization")
        .order_by("starts_at", "id")
    )


def organization_feed_build(*, org: Organization) -> bytes:
    """The organization's subscribable calendar of public events."""
    components = [_event_component(event) for event in feed_events(org=org)]
    return _calendar(components, uid=f"calendar-organization-{org.pk}@{uid_host()}", name=org.name, refresh=True)


@transaction.atomic(durable=True)
def calendar_feed_token_reset(*, org: Organization, actor: User | None) -> Organization:
    """Give the feed a new secret address: subscriptions to the old one stop updating (404)."""
    org = Organization.objects.select_for_update().get(pk=org.pk)
    org.calendar_token = calendar_feed_token()
    org.save(update_fields=["calendar_token"])
    audit_log(org=org, actor=actor, action="events.calendar_feed.reset", obj=org)
    return org


def ics_response(content: bytes, *, filename: str, download: bool = True) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPE)
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def event_filename(event: Event, suffix: str = "") -> str:
    return f"{event.slug}{suffix}.ics"


# --- "Add to calendar" links ----------------------------------------------------------------------


def _utc(value: datetime, fmt: str) -> str:
    return value.astimezone(UTC).strftime(fmt)


def calendar_links(event: Event) -> dict[str, str]:
    """Google Calendar and Outlook links that open a new entry filled with the event."""
    details = _event_description(event)
    location = event_location(event)
    google = "https://calendar.google.com/calendar/render?" + urlencode(
        {
            "action": "TEMPLATE",
            "text": event.title,
            "dates": f"{_utc(event.starts_at, '%Y%m%dT%H%M%SZ')}/{_utc(event.ends_at, '%Y%m%dT%H%M%SZ')}",
            "details": details,
            "location": location,
            "ctz": event.timezone,
        }
    )
    outlook = "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": event.title,
            "startdt": _utc(event.starts_at, "%Y-%m-%dT%H:%M:%SZ"),
            "enddt": _utc(event.ends_at, "%Y-%m-%dT%H:%M:%SZ"),
            "body": details,
            "location": location,
        }
    )
    return {"google": google, "outlook": outlook}


def add_to_calendar(event: Event, *, ics_path: str) -> dict[str, str]:
    """What an "add to calendar" menu links to: our .ics (Apple, Outlook, Thunderbird), Google, Outlook.com."""
    return {"ics": ics_path, **calendar_links(event)}
