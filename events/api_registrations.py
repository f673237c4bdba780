"""/api/v1/registrations and /api/v1/events/{id}/attendees: seats, over the API (the door: events/api_checkins.py)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from events import selectors, services, snapshots
from events.errors import BatchFailed, ValidationFailed
from events.models import RegistrationStatus, TicketType
from portal.api import ErrorBody, ErrorOut, listcache
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names, camel, error_body
from portal.api.pagination import Pagination, Rows, paginate, sort_order
from portal.api.schemas import Body
from portal.errors import DomainError, NotFound

router = Router(tags=["registrations"])

SORT_FIELDS = {"createdAt": "created_at", "name": "name", "email": "email", "id": "id"}
#: lists read registrations as rows, a page at a time (no model instances)
REGISTRATION_ROWS = Rows(snapshots.REGISTRATION_FIELDS, snapshots.registration_rows)

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


class RegistrationIn(Body):
    ticketTypeId: int
    name: str = Field(..., max_length=200)
    email: str = Field(..., max_length=254)
    sessionIds: list[int] = Field(default_factory=list)


class RegistrationCancelIn(Body):
    reason: str = Field("", max_length=500)


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
    links: dict[str, str] = Field(
        ...,
        description="Related resources (relative URLs): self, event, ticket, calendar, payments.",
        examples=[
            {
                "self": "/api/v1/registrations/9",
                "event": "/api/v1/events/42",
                "ticket": "/api/v1/registrations/9/ticket",
                "calendar": "/api/v1/registrations/9/calendar",
                "payments": "/api/v1/payments?registrationId=9",
            }
        ],
    )


class RegistrationList(Schema):
    data: list[RegistrationOut]
    pagination: Pagination


class RegistrationPatch(Body):
    model_config = {"json_schema_extra": {"examples": [{"name": "Ada King"}, {"sessionIds": [31, 34]}]}}

    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    sessionIds: list[int] | None = Field(None, description="Replaces the chosen sessions; `[]` chooses none.")


class BatchIn(Body):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "items": [
                        {"ticketTypeId": 5, "name": "Ada Lovelace", "email": "ada@example.com"},
                        {"ticketTypeId": 5, "name": "Grace Hopper", "email": "grace@example.com", "sessionIds": [31]},
                    ],
                    "atomic": False,
                }
            ]
        }
    }

    items: list[RegistrationIn] = Field(..., min_length=1, max_length=services.BATCH_LIMIT)
    atomic: bool = Field(False, description="All or nothing: one failing item and none is made (409 `BATCH_FAILED`).")


class BatchItemOut(Schema):
    index: int = Field(..., description="The item's position in `items`, from 0.")
    status: int = Field(..., description="201 created, 200 already registered, or the error's status.")
    data: RegistrationOut | None = None
    error: ErrorBody | None = Field(None, description="The error envelope's body, as the single request would answer.")


class BatchSummary(Schema):
    created: int
    existing: int
    failed: int


class BatchOut(Schema):
    results: list[BatchItemOut]
    summary: BatchSummary


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
    auth=scoped("registrations:write"),
    response={201: RegistrationOut, 200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Register an attendee",
    description="Take a seat of a ticket type (and optionally sessions). Answers 201 with the new registration, or 200 "
    "with the existing one when this e-mail already holds a seat of that ticket type, so a retry is safe. "
    "`SOLD_OUT`, `SESSION_FULL`, `SALES_NOT_OPEN`, `SALES_CLOSED` and `EVENT_NOT_OPEN` answer 409. "
    "Needs `registrations:write`.",
)
def registration_create(request: HttpRequest, payload: RegistrationIn):
    principal = require_scope(request, "registrations:write")
    with api_names(FIELD_NAMES):
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
    auth=scoped("registrations:read"),
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
    if (repeat := listcache.answer_repeat(request, principal.organization)) is not None:
        return repeat
    qs = selectors.registration_list(
        org=principal.organization,
        search=q,
        status=status or "",
        ticket_type_id=ticketTypeId,
        checked_in=_checked_in(checkedIn),
    )
    if eventId is not None:
        qs = qs.filter(event_id=eventId)
    qs = qs.select_related(None).order_by(*sort_order(sort, SORT_FIELDS, tiebreak="-id"))
    return paginate(request, response, qs, REGISTRATION_ROWS, cache_for=principal.organization)


@router.get(
    "/registrations/{int:registration_id}",
    auth=scoped("registrations:read"),
    response={200: RegistrationOut, READ_ERRORS: ErrorOut},
    summary="Get a registration",
    description="One registration of the caller's organization. Needs `registrations:read`.",
)
def registration_detail(request: HttpRequest, registration_id: int):
    require_scope(request, "registrations:read")
    return _registration_out(request, registration_id)


@router.post(
    "/registrations/{int:registration_id}/confirm",
    auth=scoped("registrations:write"),
    response={200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Confirm a registration",
    description="Confirm a registration that is pending payment (confirming a confirmed one changes nothing). A "
    "cancelled registration answers 409 `REGISTRATION_CANCELLED`. Needs `registrations:write`.",
)
def registration_confirm(request: HttpRequest, registration_id: int):
    principal = require_scope(request, "registrations:write")
    with api_names(FIELD_NAMES):
        services.registration_confirm(org=principal.organization, actor=None, registration_id=registration_id)
    return _registration_out(request, registration_id)


@router.post(
    "/registrations/{int:registration_id}/cancel",
    auth=scoped("registrations:write"),
    response={200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Cancel a registration",
    description="Cancel a registration and free its seat, with an optional `reason` kept in the audit log "
    "(cancelling a cancelled one changes nothing). Needs `registrations:write`.",
)
def registration_cancel(request: HttpRequest, registration_id: int, payload: RegistrationCancelIn | None = None):
    principal = require_scope(request, "registrations:write")
    with api_names(FIELD_NAMES):
        services.registration_cancel(
            org=principal.organization,
            actor=None,
            registration_id=registration_id,
            reason=payload.reason if payload else "",
        )
    return _registration_out(request, registration_id)


@router.patch(
    "/registrations/{int:registration_id}",
    auth=scoped("registrations:write"),
    response={200: RegistrationOut, WRITE_ERRORS: ErrorOut},
    summary="Update a registration",
    description="Correct the attendee's `name` or `email`, or replace the chosen `sessionIds`; send only what "
    "changes. Checked like a new registration: an added full session answers 409 `SESSION_FULL`, an e-mail address "
    "that already holds a seat of this ticket type 409 `ALREADY_REGISTERED`, a cancelled registration 409 "
    "`REGISTRATION_CANCELLED`. The ticket is re-issued with the change. Needs `registrations:write`.",
)
def registration_update(request: HttpRequest, registration_id: int, payload: RegistrationPatch):
    principal = require_scope(request, "registrations:write")
    fields = payload.dict(exclude_unset=True)
    for name in ("name", "email", "sessionIds"):
        if name in fields and fields[name] is None:
            raise ValidationFailed(f"{name} cannot be empty.", field=name)
    with api_names(FIELD_NAMES):
        services.registration_update(
            org=principal.organization,
            actor=None,
            registration_id=registration_id,
            name=fields.get("name"),
            email=fields.get("email"),
            session_ids=fields.get("sessionIds"),
        )
    return _registration_out(request, registration_id)


def _item_kwargs(item: RegistrationIn) -> dict:
    return {"ticket_type_id": item.ticketTypeId, "name": item.name, "email": item.email, "session_ids": item.sessionIds}


def _item_error(request: HttpRequest, exc: DomainError) -> dict:
    """The envelope's body for one failed item, exactly as the single request would have answered."""
    details = {camel(k): v for k, v in exc.details.items() if v is not None} or None
    target = FIELD_NAMES.get(exc.field, camel(exc.field)) if exc.field else None
    return error_body(request, status=exc.status, code=exc.code, message=exc.message, details=details, target=target)["error"]


def _batch_answer(results: list[dict]) -> dict:
    statuses = [r["status"] for r in results]
    return {
        "results": results,
        "summary": {
            "created": statuses.count(201),
            "existing": statuses.count(200),
            "failed": len(results) - statuses.count(201) - statuses.count(200),
        },
    }


@router.post(
    "/registrations/batch",
    auth=scoped("registrations:write"),
    response={200: BatchOut, WRITE_ERRORS: ErrorOut},
    summary="Register many attendees",
    description="Up to 500 `items`, each as `POST /registrations` takes it. By default each item is made on its own: "
    "the answer (200) lists per item its `status` (201 created, 200 already registered, or the error's status) with "
    "the registration in `data` or the error envelope's body in `error`, and a `summary`. With `atomic: true` all "
    "items are made together or none is: any failing item answers 409 `BATCH_FAILED` listing every failing item "
    "(`index`, `code`, `message`, `target`) in `details.items`. An `Idempotency-Key` makes a retry safe. Needs "
    "`registrations:write`.",
)
def registration_batch(request: HttpRequest, payload: BatchIn):
    principal = require_scope(request, "registrations:write")
    org = principal.organization
    if payload.atomic:
        try:
            regs = services.registrations_batch_create(org=org, actor=None, items=[_item_kwargs(item) for item in payload.items])
        except BatchFailed as exc:
            for failure in exc.details.get("items", []):
                failure["target"] = FIELD_NAMES.get(failure["target"], camel(failure["target"])) if failure["target"] else None
            raise
        return _batch_answer(
            [
                {"index": i, "status": 201 if reg.created else 200, "data": snapshots.registration_data(reg)}
                for i, reg in enumerate(regs)
            ]
        )
    results = []
    for index, item in enumerate(payload.items):
        try:
            reg = services.registration_create(org=org, actor=None, **_item_kwargs(item))
        except TicketType.DoesNotExist:
            exc = NotFound("The requested ticket type could not be found.", field="ticketTypeId")
            results.append({"index": index, "status": exc.status, "error": _item_error(request, exc)})
        except DomainError as exc:
            results.append({"index": index, "status": exc.status, "error": _item_error(request, exc)})
        else:
            results.append({"index": index, "status": 201 if reg.created else 200, "data": snapshots.registration_data(reg)})
    return _batch_answer(results)


# --- Attendees ------------------------------------------------------------------------------------


@router.get(
    "/events/{int:event_id}/attendees",
    auth=scoped("registrations:read"),
    response={200: RegistrationList, READ_ERRORS: ErrorOut},
    summary="List an event's attendees",
    description="The event's confirmed registrations; sort with `sort=name` (default), `createdAt`, `-createdAt`; "
    "page with `page`+`pageSize` or `limit`+`offset`. Needs `registrations:read`.",
)
def event_attendees(request: HttpRequest, response: HttpResponse, event_id: int, sort: str = "name"):
    principal = require_scope(request, "registrations:read")
    if (repeat := listcache.answer_repeat(request, principal.organization)) is not None:
        return repeat
    event = selectors.event_get(org=principal.organization, event_id=event_id)
    qs = selectors.registration_list(org=principal.organization, event=event, status=RegistrationStatus.CONFIRMED)
    qs = qs.select_related(None).order_by(*sort_order(sort, SORT_FIELDS, tiebreak="-id"))
    return paginate(request, response, qs, REGISTRATION_ROWS, cache_for=principal.organization)
