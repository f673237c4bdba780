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
from portal.api import ErrorOut
from portal.api.auth import require_scope
from portal.api.errors import WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, paginate, sort_order

router = Router(tags=["events"])

SORT_FIELDS = {"startsAt": "starts_at", "endsAt": "ends_at", "title": "title", "createdAt": "created_at", "id": "id"}


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


class EventList(Schema):
    data: list[EventOut]
    pagination: Pagination


@router.get(
    "",
    response={200: EventList, frozenset({400, 401, 403, 422, 429}): ErrorOut},
    summary="List events",
    description="Filter with `status`, `q` (title or venue), `seriesId`, `startsAfter`, `startsBefore`; "
    "sort with `sort=-startsAt,title`; page with `page`+`pageSize` or `limit`+`offset`.",
)
def event_list(
    request: HttpRequest,
    response: HttpResponse,
    status: EventStatus | None = None,
    q: str = "",
    seriesId: int | None = None,
    startsAfter: datetime | None = None,
    startsBefore: datetime | None = None,
    sort: str = "startsAt",
):
    principal = require_scope(request, "events:read")
    qs = selectors.event_list(org=principal.organization, search=q, status=status or "").prefetch_related("ticket_types")
    if seriesId is not None:
        qs = qs.filter(parent_id=seriesId)
    if startsAfter is not None:
        qs = qs.filter(starts_at__gte=startsAfter)
    if startsBefore is not None:
        qs = qs.filter(starts_at__lt=startsBefore)
    return paginate(request, response, qs.order_by(*sort_order(sort, SORT_FIELDS)), snapshots.event_data)


@router.get(
    "/{int:event_id}",
    response={200: EventOut, frozenset({401, 403, 404, 429}): ErrorOut},
    summary="Get an event",
)
def event_detail(request: HttpRequest, event_id: int):
    principal = require_scope(request, "events:read")
    event = Event.objects.for_org(principal.organization).prefetch_related("ticket_types").get(pk=event_id)
    return snapshots.event_data(event)


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


class VenueIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    address: str = Field("", max_length=300)


class EventIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    slug: str = Field("", max_length=80, pattern=r"^[-a-z0-9]*$")
    description: str = ""
    startsAt: AwareDatetime
    endsAt: AwareDatetime
    timezone: str = "UTC"
    venue: VenueIn | None = None
    onlineUrl: HttpUrl | None = None
    seriesId: int | None = None


class EventPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, max_length=80, pattern=r"^[-a-z0-9]+$")
    description: str | None = None
    startsAt: AwareDatetime | None = None
    endsAt: AwareDatetime | None = None
    timezone: str | None = None
    venue: VenueIn | None = None
    onlineUrl: HttpUrl | None = None
    seriesId: int | None = None


class CancelIn(Schema):
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
        if name in renames:
            fields[renames[name]] = value
        elif name == "venue":
            fields["venue_name"] = value["name"] if value else ""
            fields["venue_address"] = value["address"] if value else ""
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
    response={200: EventOut, WRITE_ERRORS: ErrorOut},
    summary="Cancel an event",
    description="The reason is shown to attendees.",
)
def event_cancel(request: HttpRequest, event_id: int, payload: CancelIn):
    principal = require_scope(request, "events:write")
    _call(services.event_cancel, org=principal.organization, actor=None, event_id=event_id, reason=payload.reason)
    return _event_out(principal.organization, event_id)
