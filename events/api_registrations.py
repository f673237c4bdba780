"""/api/v1/registrations, /api/v1/checkins and /api/v1/events/{id}/attendees: seats and the door, over the API."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from events import selectors, services, snapshots
from events.errors import AlreadyCheckedIn
from events.models import RegistrationStatus, TicketType
from portal.api import ErrorOut
from portal.api.auth import require_scope
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, paginate, sort_order
from portal.errors import NotFound

router = Router(tags=["registrations"])

SORT_FIELDS = {"createdAt": "created_at", "name": "name", "email": "email", "id": "id"}

#: the services' field names → the API's parameter names (the envelope's ``target``)
FIELD_NAMES = {
    "ticket_type": "ticketTypeId",
    "ticket_type_id": "ticketTypeId",
    "sessions": "sessionIds",
    "name": "name",
    "email": "email",
    "gate": "gate",
    "code": "code",
}


# --- Schemas --------------------------------------------------------------------------------------


class RegistrationIn(Schema):
    ticketTypeId: int
    name: str = Field(..., max_length=200)
    email: str = Field(..., max_length=254)
    sessionIds: list[int] = Field(default_factory=list)


class CancelIn(Schema):
    reason: str = Field("", max_length=500)


class GateIn(Schema):
    gate: str = Field("", max_length=50)


class CheckinIn(Schema):
    code: str = Field(..., min_length=1, max_length=16)
    gate: str = Field("", max_length=50)


class RegistrationOut(Schema):
    id: int
    eventId: int
    ticketTypeId: int
    name: str
    email: str
    status: str
    code: str
    sessionIds: list[int]
    createdAt: datetime
    confirmedAt: datetime | None
    cancelledAt: datetime | None


class RegistrationList(Schema):
    data: list[RegistrationOut]
    pagination: Pagination


class CheckinOut(Schema):
    id: int
    eventId: int
    registrationId: int
    code: str
    attendeeName: str
    checkedInAt: datetime
    gate: str | None


# --- Helpers --------------------------------------------------------------------------------------


def _checked_in(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _registration_out(request: HttpRequest, registration_id: int) -> dict:
    principal = request.auth
    reg = selectors.registration_get(org=principal.organization, registration_id=registration_id)
    return snapshots.registration_data(reg)


# --- Registrations --------------------------------------------------------------------------------


@router.post(
    "/registrations",
    response={201: RegistrationOut, 200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Register an attendee",
    description="Take a seat of a ticket type (and optionally sessions). Answers 201 with the new registration, or 200 "
    "with the existing one when this e-mail already holds a seat of that ticket type, so a retry is safe. "
    "`SOLD_OUT`, `SESSION_FULL`, `SALES_NOT_OPEN`, `SALES_CLOSED` and `EVENT_NOT_OPEN` answer 409. "
    "Needs `registrations:write`.",
)
def registration_create(request: HttpRequest, payload: RegistrationIn):
    principal = require_scope(request, "registrations:write")
    with api_names(FIELD_NAMES, camel_details=True):
        try:
            reg = services.registration_create(
                org=principal.organization,
                actor=None,
                ticket_type_id=payload.ticketTypeId,
                name=payload.name,
                email=payload.email,
                session_ids=payload.sessionIds,
            )
        except TicketType.DoesNotExist:
            raise NotFound("The requested ticket type could not be found.", field="ticketTypeId") from None
    return Status(201 if reg.created else 200, snapshots.registration_data(reg))


@router.get(
    "/registrations",
    response={200: RegistrationList, READ_ERRORS: ErrorOut},
    summary="List registrations",
    description="Filter with `eventId`, `status`, `ticketTypeId`, `q` (name, e-mail or exact code) and "
    "`checkedIn=true|false`; sort with `sort=-createdAt` (default), `createdAt`, `name`; page with "
    "`page`+`pageSize` or `limit`+`offset`. Needs `registrations:read`.",
)
def registration_list(
    request: HttpRequest,
    response: HttpResponse,
    eventId: int | None = None,
    status: RegistrationStatus | None = None,
    ticketTypeId: int | None = None,
    q: str = "",
    checkedIn: bool | None = None,
    sort: str = "-createdAt",
):
    principal = require_scope(request, "registrations:read")
    qs = selectors.registration_list(
        org=principal.organization,
        search=q,
        status=status or "",
        ticket_type_id=ticketTypeId,
        checked_in=_checked_in(checkedIn),
    )
    if eventId is not None:
        qs = qs.filter(event_id=eventId)
    qs = qs.prefetch_related("sessions").order_by(*sort_order(sort, SORT_FIELDS, tiebreak="-id"))
    return paginate(request, response, qs, snapshots.registration_data)


@router.get(
    "/registrations/{int:registration_id}",
    response={200: RegistrationOut, READ_ERRORS: ErrorOut},
    summary="Get a registration",
    description="One registration of the caller's organization. Needs `registrations:read`.",
)
def registration_detail(request: HttpRequest, registration_id: int):
    require_scope(request, "registrations:read")
    return _registration_out(request, registration_id)


@router.post(
    "/registrations/{int:registration_id}/confirm",
    response={200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Confirm a registration",
    description="Confirm a registration that is pending payment (confirming a confirmed one changes nothing). A "
    "cancelled registration answers 409 `REGISTRATION_CANCELLED`. Needs `registrations:write`.",
)
def registration_confirm(request: HttpRequest, registration_id: int):
    principal = require_scope(request, "registrations:write")
    with api_names(FIELD_NAMES, camel_details=True):
        services.registration_confirm(org=principal.organization, actor=None, registration_id=registration_id)
    return _registration_out(request, registration_id)


@router.post(
    "/registrations/{int:registration_id}/cancel",
    response={200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Cancel a registration",
    description="Cancel a registration and free its seat, with an optional `reason` kept in the audit log "
    "(cancelling a cancelled one changes nothing). Needs `registrations:write`.",
)
def registration_cancel(request: HttpRequest, registration_id: int, payload: CancelIn | None = None):
    principal = require_scope(request, "registrations:write")
    with api_names(FIELD_NAMES, camel_details=True):
        services.registration_cancel(
            org=principal.organization,
            actor=None,
            registration_id=registration_id,
            reason=payload.reason if payload else "",
        )
    return _registration_out(request, registration_id)


# --- Check-in -------------------------------------------------------------------------------------


def _checkin(request: HttpRequest, registration_id: int, gate: str) -> dict:
    principal = request.auth
    with api_names(FIELD_NAMES, camel_details=True):
        try:
            checkin = services.checkin_perform(
                org=principal.organization, actor=None, registration_id=registration_id, gate=gate.strip()
            )
        except AlreadyCheckedIn as exc:
            # the first check-in's time, written exactly as the check-in resource writes ``checkedInAt``
            first = datetime.fromisoformat(exc.details["checked_in_at"]).astimezone(UTC)
            exc.details["checked_in_at"] = DjangoJSONEncoder().default(first)
            raise
    return snapshots.checkin_data(checkin)


CHECKIN_DESCRIPTION = (
    "A second check-in answers 409 `ALREADY_CHECKED_IN` with the first one's `checkedInAt` and `gate` in `details`; "
    "a cancelled registration answers 409 `REGISTRATION_CANCELLED`, an unpaid one 409 `REGISTRATION_NOT_CONFIRMED`. "
    "Needs `checkins:write`."
)


@router.post(
    "/registrations/{int:registration_id}/checkin",
    response={201: CheckinOut, WRITE_ERRORS: ErrorOut},
    summary="Check a registration in",
    description="Check in the attendee of this registration, optionally naming the `gate`. " + CHECKIN_DESCRIPTION,
)
def registration_checkin(request: HttpRequest, registration_id: int, payload: GateIn | None = None):
    require_scope(request, "checkins:write")
    return Status(201, _checkin(request, registration_id, payload.gate if payload else ""))


@router.post(
    "/checkins",
    response={201: CheckinOut, WRITE_ERRORS: ErrorOut},
    summary="Check in by ticket code",
    description="Check in the attendee whose ticket carries `code` (as a scanner reads it), optionally naming the "
    "`gate`. An unknown code answers 404. " + CHECKIN_DESCRIPTION,
)
def checkin_create(request: HttpRequest, payload: CheckinIn):
    principal = require_scope(request, "checkins:write")
    reg = selectors.registration_by_code(org=principal.organization, code=payload.code)
    if reg is None:
        raise NotFound("No ticket carries this code.", field="code")
    return Status(201, _checkin(request, reg.pk, payload.gate))


# --- Attendees ------------------------------------------------------------------------------------


@router.get(
    "/events/{int:event_id}/attendees",
    response={200: RegistrationList, READ_ERRORS: ErrorOut},
    summary="List an event's attendees",
    description="The event's confirmed registrations; sort with `sort=name` (default), `createdAt`, `-createdAt`; "
    "page with `page`+`pageSize` or `limit`+`offset`. Needs `registrations:read`.",
)
def event_attendees(request: HttpRequest, response: HttpResponse, event_id: int, sort: str = "name"):
    principal = require_scope(request, "registrations:read")
    event = selectors.event_get(org=principal.organization, event_id=event_id)
    qs = selectors.registration_list(org=principal.organization, event=event, status=RegistrationStatus.CONFIRMED)
    qs = qs.prefetch_related("sessions").order_by(*sort_order(sort, SORT_FIELDS, tiebreak="-id"))
    return paginate(request, response, qs, snapshots.registration_data)
