"""/api/v1/events: the events of the caller's organization."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime, HttpUrl

from events import selectors, services, snapshots
from events.errors import ValidationFailed
from events.models import Event, EventStatus
from portal.api import ErrorOut, listcache
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, Rows, paginate, sort_order
from portal.api.schemas import Body, IsoDatetime

router = Router(tags=["events"])

SORT_FIELDS = {"startsAt": "starts_at", "endsAt": "ends_at", "title": "title", "createdAt": "created_at", "id": "id"}

#: lists read events as rows, a page at a time (no model instances), their ticket types in one more query
EVENT_ROWS = Rows(snapshots.EVENT_FIELDS, snapshots.event_rows)

LIST_FILTERS = (
    "Filter with `status`, `q` (title, venue or address slug), `startsAfter` and `startsBefore` (ISO 8601 with a time "
    "zone; from inclusive, to exclusive)"
)
PAGING = (
    "page with `page`+`pageSize`, `limit`+`offset`, or `cursor`+`limit` (pass `cursor=` empty to start, then each "
    "`pagination.nextCursor`)"
)


class VenueOut(Schema):
    name: str
    address: str


class TicketTypeOut(Schema):
    id: int
    eventId: int
    name: str
    description: str
    price: str
    currency: str
    capacity: int | None
    salesStart: datetime | None
    salesEnd: datetime | None


class EventOut(Schema):
    id: int
    title: str
    slug: str
    description: str
    status: str
    cancellationReason: str | None
    startsAt: datetime
    endsAt: datetime
    timezone: str
    venue: VenueOut | None
    onlineUrl: str | None
    seriesId: int | None
    ticketTypes: list[TicketTypeOut]
    publishedAt: datetime | None
    createdAt: datetime
    updatedAt: datetime
    links: dict[str, str] = Field(
        ...,
        description="Related resources (relative URLs): self, sessions, registrations, attendees, statistics, "
        "children, series (only in a series), calendar, checkinKey.",
        examples=[snapshots.event_links(42, parent_id=7)],
    )


class EventList(Schema):
    data: list[EventOut]
    pagination: Pagination


class RegistrationCountsOut(Schema):
    total: int
    pendingPayment: int
    confirmed: int
    cancelled: int


class TicketTypeSeatsOut(Schema):
    id: int
    name: str
    capacity: int | None = Field(..., description="Empty: no limit.")
    taken: int = Field(..., description="Seats held by pending or confirmed registrations.")
    seatsLeft: int | None = Field(..., description="Empty when the ticket type has no limit.")


class EventStatisticsOut(Schema):
    eventId: int
    registrations: RegistrationCountsOut
    ticketTypes: list[TicketTypeSeatsOut]
    seatsLeft: int | None = Field(..., description="Over every ticket type; empty when one of them has no limit.")
    checkedIn: int = Field(..., description="Confirmed registrations checked in.")
    checkInRate: float = Field(..., description="checkedIn / confirmed registrations, from 0 to 1 (0 when none).")
    links: dict[str, str]


STATISTICS_EXAMPLE = {
    "eventId": 42,
    "registrations": {"total": 120, "pendingPayment": 5, "confirmed": 110, "cancelled": 5},
    "ticketTypes": [
        {"id": 7, "name": "General", "capacity": 100, "taken": 95, "seatsLeft": 5},
        {"id": 8, "name": "Speaker", "capacity": 20, "taken": 20, "seatsLeft": 0},
    ],
    "seatsLeft": 5,
    "checkedIn": 88,
    "checkInRate": 0.8,
    "links": {"self": "/api/v1/events/42/statistics", "event": "/api/v1/events/42"},
}


def _event_queryset(org, *, search: str = "", status: str = ""):
    """The caller's events (without the registration counts the portal's list adds)."""
    return selectors.event_list(org=org, search=search.strip(), status=status, counts=False)


@router.get(
    "",
    auth=scoped("events:read"),
    response={200: EventList, frozenset({400, 401, 403, 422, 429}): ErrorOut},
    summary="List events",
    description=f"{LIST_FILTERS} and `seriesId` (the events of a series); sort with `sort=-startsAt,title` "
    f"(`startsAt` default, `endsAt`, `title`, `createdAt`, `id`); {PAGING}. Needs `events:read`.",
)
def event_list(
    request: HttpRequest,
    response: HttpResponse,
    status: EventStatus | None = None,
    q: str = "",
    seriesId: int | None = None,
    startsAfter: IsoDatetime | None = None,
    startsBefore: IsoDatetime | None = None,
    sort: str = "startsAt",
):
    principal = require_scope(request, "events:read")
    if (repeat := listcache.answer_repeat(request, principal.organization)) is not None:
        return repeat
    qs = _starting(_event_queryset(principal.organization, search=q, status=status or ""), startsAfter, startsBefore)
    if seriesId is not None:
        qs = qs.filter(parent_id=seriesId)
    return paginate(request, response, qs.order_by(*sort_order(sort, SORT_FIELDS)), EVENT_ROWS, cache_for=principal.organization)


def _starting(qs, after: datetime | None, before: datetime | None):
    if after is not None:
        qs = qs.filter(starts_at__gte=after)
    if before is not None:
        qs = qs.filter(starts_at__lt=before)
    return qs


@router.get(
    "/{int:event_id}",
    auth=scoped("events:read"),
    response={200: EventOut, frozenset({401, 403, 404, 429}): ErrorOut},
    summary="Get an event",
    description="With its ticket types and `links` to its sessions, registrations, statistics and more. Needs `events:read`.",
)
def event_detail(request: HttpRequest, event_id: int):
    principal = require_scope(request, "events:read")
    return _event_out(principal.organization, event_id)


@router.get(
    "/{int:event_id}/children",
    auth=scoped("events:read"),
    response={200: EventList, READ_ERRORS: ErrorOut},
    summary="List the events of a series",
    description=f"The events whose `seriesId` is this event (none for an event outside a series). {LIST_FILTERS}; "
    f"sort with `sort=startsAt` (default), `endsAt`, `title`, `createdAt`, `id`; {PAGING}. Needs `events:read`.",
)
def event_children(
    request: HttpRequest,
    response: HttpResponse,
    event_id: int,
    status: EventStatus | None = None,
    q: str = "",
    startsAfter: IsoDatetime | None = None,
    startsBefore: IsoDatetime | None = None,
    sort: str = "startsAt",
):
    principal = require_scope(request, "events:read")
    if (repeat := listcache.answer_repeat(request, principal.organization)) is not None:
        return repeat
    series = selectors.event_get(org=principal.organization, event_id=event_id)
    qs = _event_queryset(principal.organization, search=q, status=status or "").filter(parent_id=series.pk)
    qs = _starting(qs, startsAfter, startsBefore)
    return paginate(request, response, qs.order_by(*sort_order(sort, SORT_FIELDS)), EVENT_ROWS, cache_for=principal.organization)


@router.get(
    "/{int:event_id}/statistics",
    auth=scoped("events:read"),
    response={200: EventStatisticsOut, READ_ERRORS: ErrorOut},
    summary="Get an event's statistics",
    description="Registrations by status, seats taken and left per ticket type, and check-in progress: `checkedIn` "
    "confirmed registrations and `checkInRate` (checked in over confirmed, 0 to 1). Needs `events:read`.",
    openapi_extra={"responses": {200: {"content": {"application/json": {"example": STATISTICS_EXAMPLE}}}}},
)
def event_statistics(request: HttpRequest, event_id: int):
    principal = require_scope(request, "events:read")
    event = selectors.event_get(org=principal.organization, event_id=event_id)
    stats = selectors.event_statistics(org=principal.organization, event=event)
    unlimited = any(tt.seats_left is None for tt in stats.ticket_types)
    return {
        "eventId": event.pk,
        "registrations": {
            "total": sum(stats.by_status.values()),
            "pendingPayment": stats.by_status["pending_payment"],
            "confirmed": stats.by_status["confirmed"],
            "cancelled": stats.by_status["cancelled"],
        },
        "ticketTypes": [
            {"id": tt.pk, "name": tt.name, "capacity": tt.capacity, "taken": tt.taken, "seatsLeft": tt.seats_left}
            for tt in stats.ticket_types
        ],
        "seatsLeft": None if unlimited else sum(tt.seats_left for tt in stats.ticket_types),
        "checkedIn": stats.checked_in,
        "checkInRate": stats.checkin_rate,
        "links": {"self": f"/api/v1/events/{event.pk}/statistics", "event": f"/api/v1/events/{event.pk}"},
    }


# --- Writes ---------------------------------------------------------------------------------------

#: service field names → the API's names, so an error's target is the field the client sent
API_FIELDS = {
    "title": "title",
    "slug": "slug",
    "description": "description",
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "timezone": "timezone",
    "venue_name": "venue",
    "venue_address": "venue",
    "online_url": "onlineUrl",
    "parent": "seriesId",
    "reason": "reason",
}


class VenueIn(Body):
    name: str = Field(..., min_length=1, max_length=200)
    address: str = Field("", max_length=300)


class EventIn(Body):
    title: str = Field(..., min_length=1, max_length=200)
    slug: str = Field("", max_length=80, pattern=r"^[-a-z0-9]*$")
    description: str = ""
    startsAt: AwareDatetime
    endsAt: AwareDatetime
    timezone: str = "UTC"
    venue: VenueIn | None = None
    onlineUrl: HttpUrl | None = None
    seriesId: int | None = None


class EventPatch(Body):
    title: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, max_length=80, pattern=r"^[-a-z0-9]+$")
    description: str | None = None
    startsAt: AwareDatetime | None = None
    endsAt: AwareDatetime | None = None
    timezone: str | None = None
    venue: VenueIn | None = None
    onlineUrl: HttpUrl | None = None
    seriesId: int | None = None


class EventCancelIn(Body):
    reason: str = Field(..., min_length=1, max_length=2000)


def _service_fields(data: dict) -> dict:
    fields = {}
    renames = {
        "startsAt": "starts_at",
        "endsAt": "ends_at",
        "seriesId": "parent_id",
        "title": "title",
        "slug": "slug",
        "description": "description",
        "timezone": "timezone",
    }
    for name, value in data.items():
        if value is None and name in {"title", "slug", "startsAt", "endsAt", "timezone"}:
            raise ValidationFailed(f"{name} cannot be null: leave it out to keep it.", field=name)
        if name == "description":
            fields["description"] = value or ""
        elif name in renames:
            fields[renames[name]] = value
        elif name == "venue":
            fields["venue_name"] = value["name"] if value else ""
            fields["venue_address"] = value.get("address", "") if value else ""
        elif name == "onlineUrl":
            fields["online_url"] = str(value) if value else ""
    if "timezone" in fields and fields["timezone"] not in zoneinfo.available_timezones():
        raise ValidationFailed(
            f"Unknown time zone '{fields['timezone']}': use an IANA name such as Europe/Berlin.", field="timezone"
        )
    return fields


def _call(service, **kwargs) -> Event:
    """Run a service; its errors name the API's field."""
    with api_names(API_FIELDS):
        return service(**kwargs)


def _event_out(org, event_id: int) -> dict:
    return snapshots.event_data(Event.objects.for_org(org).prefetch_related("ticket_types").get(pk=event_id))


@router.post(
    "",
    auth=scoped("events:write"),
    response={201: EventOut, WRITE_ERRORS: ErrorOut},
    summary="Create an event",
    description="The event starts as a draft. Send an `Idempotency-Key` header to make retries safe.",
)
def event_create(request: HttpRequest, payload: EventIn):
    principal = require_scope(request, "events:write")
    event = _call(services.event_create, org=principal.organization, actor=None, **_service_fields(payload.dict()))
    return Status(201, _event_out(principal.organization, event.pk))


@router.patch(
    "/{int:event_id}",
    auth=scoped("events:write"),
    response={200: EventOut, WRITE_ERRORS: ErrorOut},
    summary="Update an event",
    description="Send only the fields to change.",
)
def event_update(request: HttpRequest, event_id: int, payload: EventPatch):
    principal = require_scope(request, "events:write")
    fields = _service_fields(payload.dict(exclude_unset=True))
    _call(services.event_update, org=principal.organization, actor=None, event_id=event_id, **fields)
    return _event_out(principal.organization, event_id)


@router.post(
    "/{int:event_id}/publish",
    auth=scoped("events:write"),
    response={200: EventOut, WRITE_ERRORS: ErrorOut},
    summary="Publish an event",
    description="Opens registration. The event needs at least one ticket type.",
)
def event_publish(request: HttpRequest, event_id: int):
    principal = require_scope(request, "events:write")
    _call(services.event_publish, org=principal.organization, actor=None, event_id=event_id)
    return _event_out(principal.organization, event_id)


@router.post(
    "/{int:event_id}/cancel",
    auth=scoped("events:write"),
    response={200: EventOut, WRITE_ERRORS: ErrorOut},
    summary="Cancel an event",
    description="The reason is shown to attendees.",
)
def event_cancel(request: HttpRequest, event_id: int, payload: EventCancelIn):
    principal = require_scope(request, "events:write")
    _call(services.event_cancel, org=principal.organization, actor=None, event_id=event_id, reason=payload.reason)
    return _event_out(principal.organization, event_id)
