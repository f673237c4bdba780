"""/api/v1/…/calendar: events, sessions and registrations as iCalendar files (text/calendar)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from events import calendars, selectors
from events.models import Session
from portal.api import ErrorOut
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS

router = Router(tags=["calendars"])


def _calendar_response(description: str) -> dict:
    """OpenAPI: the 200 answer is an iCalendar file, not JSON."""
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"text/calendar": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


CALENDAR_NOTES = (
    "Times are on the event's wall clock (`DTSTART;TZID=…`) with a `VTIMEZONE` for each zone used; UIDs are "
    "stable (`event-<id>@<host>`, `session-<id>@<host>`) and `SEQUENCE` grows with every change, so importing "
    "the file again updates the entries. Cancelled items stay in the file with `STATUS:CANCELLED`."
)


@router.get(
    "/events/{int:event_id}/calendar",
    auth=scoped("events:read"),
    response={200: None, READ_ERRORS: ErrorOut},
    summary="Get an event as iCalendar",
    description="The event and its sessions as a `text/calendar` file. " + CALENDAR_NOTES + " Needs `events:read`.",
    openapi_extra=_calendar_response("The event and its sessions (iCalendar)."),
)
def event_calendar(request: HttpRequest, event_id: int) -> HttpResponse:
    principal = require_scope(request, "events:read")
    event = selectors.event_get(org=principal.organization, event_id=event_id)
    event.organization = principal.organization
    return calendars.ics_response(calendars.event_ics_build(event=event), filename=calendars.event_filename(event))


@router.get(
    "/events/{int:event_id}/sessions/{int:session_id}/calendar",
    auth=scoped("events:read"),
    response={200: None, READ_ERRORS: ErrorOut},
    summary="Get a session as iCalendar",
    description="One session as a `text/calendar` file. " + CALENDAR_NOTES + " Needs `events:read`.",
    openapi_extra=_calendar_response("The session (iCalendar)."),
)
def session_calendar(request: HttpRequest, event_id: int, session_id: int) -> HttpResponse:
    principal = require_scope(request, "events:read")
    org = principal.organization
    session = (
        Session.objects.for_org(org)
        .filter(event_id=event_id)
        .select_related("event")
        .prefetch_related("speakers")
        .get(pk=session_id)
    )
    session.event.organization = org
    content = calendars.session_ics_build(session=session)
    return calendars.ics_response(content, filename=calendars.event_filename(session.event, f"-session-{session.pk}"))


@router.get(
    "/registrations/{int:registration_id}/calendar",
    auth=scoped("registrations:read"),
    response={200: None, READ_ERRORS: ErrorOut},
    summary="Get a registration as iCalendar",
    description="What the attendee keeps in their calendar: the event and the sessions they chose, as a "
    "`text/calendar` file (the one attached to the confirmation e-mail). A cancelled registration's entries "
    "are `STATUS:CANCELLED`. " + CALENDAR_NOTES + " Needs `registrations:read`.",
    openapi_extra=_calendar_response("The attendee's event and sessions (iCalendar)."),
)
def registration_calendar(request: HttpRequest, registration_id: int) -> HttpResponse:
    principal = require_scope(request, "registrations:read")
    registration = selectors.registration_get(org=principal.organization, registration_id=registration_id)
    registration.event.organization = principal.organization
    content = calendars.registration_ics_build(registration=registration)
    return calendars.ics_response(content, filename=calendars.event_filename(registration.event, "-registration"))
