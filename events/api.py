"""/api/v1/events: the events of the caller's organization."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from events import selectors, snapshots
from events.models import Event, EventStatus
from portal.api import ErrorOut
from portal.api.auth import require_scope
from portal.api.pagination import paginate
from portal.errors import DomainError

router = Router(tags=["events"])

SORT_FIELDS = {"startsAt": "starts_at", "endsAt": "ends_at", "title": "title", "createdAt": "created_at", "id": "id"}


class InvalidSort(DomainError):
    code, status = "INVALID_SORT", 400


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


class Pagination(Schema):
    total: int
    page: int | None = None
    pageSize: int | None = None
    totalPages: int | None = None
    limit: int | None = None
    offset: int | None = None


class EventList(Schema):
    data: list[EventOut]
    pagination: Pagination


def _order(sort: str) -> list[str]:
    order = []
    for part in filter(None, (p.strip() for p in sort.split(","))):
        name = part.lstrip("-")
        if name not in SORT_FIELDS:
            raise InvalidSort(f"Cannot sort by '{name}'. Sort by: {', '.join(SORT_FIELDS)}.", field="sort")
        order.append(("-" if part.startswith("-") else "") + SORT_FIELDS[name])
    return [*order, "id"]


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
    return paginate(request, response, qs.order_by(*_order(sort)), snapshots.event_data)


@router.get(
    "/{int:event_id}",
    response={200: EventOut, frozenset({401, 403, 404, 429}): ErrorOut},
    summary="Get an event",
)
def event_detail(request: HttpRequest, event_id: int):
    principal = require_scope(request, "events:read")
    event = Event.objects.for_org(principal.organization).prefetch_related("ticket_types").get(pk=event_id)
    return snapshots.event_data(event)
