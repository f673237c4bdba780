"""/api/v1/checkins and the event's check-in key: the door, over the API.

A scanner sends what it read: the QR token (``qr``, verified against the event's Ed25519 key) or the
ticket code a person typed (``code``). Offline scanners upload later with their own scan time
(``scannedAt``) and a ``nonce`` per scan, so an upload sent twice checks in once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import model_validator

from accounts.models import Organization
from events import selectors, services, snapshots, tickets
from events.errors import AlreadyCheckedIn, InvalidTicket, WrongEvent
from events.models import Event, Registration
from portal.api import ErrorBody, ErrorOut
from portal.api.auth import InsufficientScope, require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names, camel, error_body
from portal.api.schemas import Body
from portal.errors import DomainError, NotFound

router = Router(tags=["check-in"])

BULK_LIMIT = 500

#: the services' field names → the API's parameter names (the envelope's ``target``)
FIELD_NAMES = {"checked_in_at": "scannedAt", "nonce": "nonce", "gate": "gate", "code": "code", "qr": "qr"}


# --- Schemas --------------------------------------------------------------------------------------


class GateIn(Body):
    gate: str = Field("", max_length=50)


class CheckinIn(Body):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"qr": "CNV1.MTIuMzQ1Ni5aTkY5WFE0TQ.<signature>", "eventId": 12, "gate": "North"},
                {"code": "ZNF9XQ4M", "eventId": 12},
                {"qr": "CNV1.…", "eventId": 12, "nonce": "scanner-7:000143", "scannedAt": "2031-06-14T08:03:11Z"},
            ]
        }
    }

    qr: str | None = Field(None, max_length=400, description="The ticket's QR code, exactly as scanned.")
    code: str | None = Field(None, max_length=16, description="The ticket code, as a person types it (any case).")
    eventId: int | None = Field(None, description="The event being checked in: another event's ticket answers 409 `WRONG_EVENT`.")
    gate: str = Field("", max_length=50)
    nonce: str = Field(
        "", max_length=100, description="The scanner's id for this scan: the same nonce again answers the same check-in."
    )
    scannedAt: datetime | None = Field(None, description="When an offline scanner scanned (not in the future); now otherwise.")

    @model_validator(mode="after")
    def _one_of_qr_or_code(self) -> CheckinIn:
        if not (self.qr or "").strip() and not (self.code or "").strip():
            raise ValueError("Send the scanned `qr` or the ticket `code`.")
        return self


class CheckinBulkIn(Body):
    items: list[CheckinIn] = Field(..., min_length=1, max_length=BULK_LIMIT)
    eventId: int | None = Field(None, description="Applies to every item that does not name its own `eventId`.")
    gate: str = Field("", max_length=50, description="Applies to every item that does not name its own `gate`.")


class TicketTypeRef(Schema):
    id: int
    name: str


class AttendeeSessionOut(Schema):
    id: int
    title: str
    startsAt: datetime
    endsAt: datetime
    room: str
    cancelled: bool


class AttendeeOut(Schema):
    name: str
    ticketType: TicketTypeRef
    sessions: list[AttendeeSessionOut]


class CheckinLinks(Schema):
    registration: str
    event: str


class CheckinOut(Schema):
    id: int
    eventId: int
    registrationId: int
    code: str
    attendeeName: str
    checkedInAt: datetime = Field(..., description="When the ticket was scanned.")
    recordedAt: datetime = Field(..., description="When the check-in reached the server.")
    gate: str | None
    nonce: str | None
    attendee: AttendeeOut
    links: CheckinLinks


class BulkItemOut(Schema):
    index: int = Field(..., description="The item's position in `items`, from 0.")
    status: int = Field(..., description="201 checked in (or the same nonce again), else the error's status.")
    data: CheckinOut | None = None
    error: ErrorBody | None = Field(None, description="The error envelope's body, as the single request would answer.")


class BulkSummary(Schema):
    checkedIn: int
    failed: int


class BulkOut(Schema):
    results: list[BulkItemOut]
    summary: BulkSummary


class CheckinKeyLinks(Schema):
    self: str
    event: str


class CheckinKeyOut(Schema):
    eventId: int
    algorithm: str
    publicKey: str = Field(..., description="The raw 32-byte Ed25519 public key, base64url without padding.")
    publicKeyPem: str
    tokenFormat: str
    links: CheckinKeyLinks


# --- Helpers --------------------------------------------------------------------------------------


def _event(org: Organization, event_id: int) -> Event:
    try:
        return selectors.event_get(org=org, event_id=event_id)
    except Event.DoesNotExist:
        raise NotFound("The requested event could not be found.", field="eventId") from None


def _registration(org: Organization, item: CheckinIn) -> Registration:
    """The registration the scan names, checked against the event being checked in (``eventId``)."""
    event = _event(org, item.eventId) if item.eventId is not None else None
    if (item.qr or "").strip():
        if event is None:
            # no event named: the token's own, provided it is one of ours (another tenant's looks forged)
            event = Event.objects.for_org(org).filter(pk=tickets.token_event_id(item.qr)).first()
            if event is None:
                raise InvalidTicket("This ticket is not valid: it is forged or damaged.", field="qr")
        try:
            registration_id, code = tickets.token_verify(event, item.qr)
        except InvalidTicket as exc:
            exc.field = "qr"
            raise
        reg = Registration.objects.for_org(org).filter(pk=registration_id, event=event, code=code).first()
        if reg is None:
            raise InvalidTicket("This ticket is not valid any more.", field="qr")
        return reg
    reg = selectors.registration_by_code(org=org, code=item.code or "")
    if reg is None:
        raise NotFound("No ticket carries this code.", field="code")
    if event is not None and reg.event_id != event.pk:
        raise WrongEvent(
            f"This ticket is for “{reg.event.title}”, not for this event.",
            field="code",
            event_id=reg.event_id,
            event_title=reg.event.title,
        )
    return reg


def _scanned_at(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a scan time without an offset is read as UTC
    return value


def _perform(org: Organization, reg: Registration, *, gate: str, nonce: str = "", scanned_at: datetime | None = None) -> dict:
    with api_names(FIELD_NAMES):
        try:
            checkin = services.checkin_perform(
                org=org,
                actor=None,
                registration_id=reg.pk,
                gate=gate.strip(),
                nonce=nonce.strip(),
                checked_in_at=_scanned_at(scanned_at),
            )
        except AlreadyCheckedIn as exc:
            # the first check-in's time, written exactly as the check-in resource writes ``checkedInAt``
            first = datetime.fromisoformat(exc.details["checked_in_at"]).astimezone(UTC)
            exc.details["checked_in_at"] = DjangoJSONEncoder().default(first)
            raise
    return snapshots.checkin_data(checkin)


def _scan(org: Organization, item: CheckinIn) -> dict:
    with api_names(FIELD_NAMES):
        reg = _registration(org, item)
    return _perform(org, reg, gate=item.gate, nonce=item.nonce, scanned_at=item.scannedAt)


def _item_error(request: HttpRequest, exc: DomainError) -> dict:
    """The envelope's body for one failed item, exactly as the single request would have answered."""
    details = {camel(k): v for k, v in exc.details.items() if v is not None} or None
    target = FIELD_NAMES.get(exc.field, camel(exc.field)) if exc.field else None
    return error_body(request, status=exc.status, code=exc.code, message=exc.message, details=details, target=target)["error"]


CHECKIN_ERRORS = (
    "A second scan answers 409 `ALREADY_CHECKED_IN` with the first one's `checkedInAt` and `gate` in `details`; "
    "a cancelled registration answers 409 `REGISTRATION_CANCELLED`, an unpaid one 409 `REGISTRATION_NOT_CONFIRMED`."
)


# --- Endpoints ------------------------------------------------------------------------------------


@router.post(
    "/checkins",
    auth=scoped("checkins:write"),
    response={201: CheckinOut, WRITE_ERRORS: ErrorOut},
    summary="Check in a scanned ticket",
    description="Send the scanned `qr` (its Ed25519 signature is verified) or the typed `code`, and preferably the "
    "`eventId` being checked in, an optional `gate`, and for offline scans the `scannedAt` time and a `nonce`. "
    "Answers 201 with the check-in and the attendee (name, ticket type, sessions); the same `nonce` again answers "
    "the same check-in. A damaged or forged token answers 422 `INVALID_TICKET`, another event's ticket 409 "
    "`WRONG_EVENT`, an unknown code 404. " + CHECKIN_ERRORS + " Needs `checkins:write`.",
)
def checkin_create(request: HttpRequest, payload: CheckinIn):
    principal = require_scope(request, "checkins:write")
    return Status(201, _scan(principal.organization, payload))


@router.post(
    "/checkins/bulk",
    auth=scoped("checkins:write"),
    response={200: BulkOut, WRITE_ERRORS: ErrorOut},
    summary="Upload offline scans",
    description=f"Up to {BULK_LIMIT} `items`, each as `POST /checkins` takes it (a top-level `eventId` and `gate` "
    "apply to items that do not name theirs). Each item is checked in on its own; the answer (200) lists per item its "
    "`status` (201, or the error's status) with the check-in in `data` or the error envelope's body in `error`. "
    "Give every scan a `nonce`: uploading the same scans again checks nobody in twice and answers the same. "
    "Needs `checkins:write`.",
)
def checkin_bulk(request: HttpRequest, payload: CheckinBulkIn):
    principal = require_scope(request, "checkins:write")
    results = []
    for index, item in enumerate(payload.items):
        if item.eventId is None:
            item.eventId = payload.eventId
        if not item.gate:
            item.gate = payload.gate
        try:
            data = _scan(principal.organization, item)
        except DomainError as exc:
            results.append({"index": index, "status": exc.status, "error": _item_error(request, exc)})
        else:
            results.append({"index": index, "status": 201, "data": data})
    ok = sum(1 for r in results if r["status"] == 201)
    return {"results": results, "summary": {"checkedIn": ok, "failed": len(results) - ok}}


@router.post(
    "/registrations/{int:registration_id}/checkin",
    auth=scoped("checkins:write"),
    response={201: CheckinOut, WRITE_ERRORS: ErrorOut},
    summary="Check a registration in",
    description="Check in the attendee of this registration, optionally naming the `gate`. "
    + CHECKIN_ERRORS
    + " Needs `checkins:write`.",
)
def registration_checkin(request: HttpRequest, registration_id: int, payload: GateIn | None = None):
    principal = require_scope(request, "checkins:write")
    reg = selectors.registration_get(org=principal.organization, registration_id=registration_id)
    return Status(201, _perform(principal.organization, reg, gate=payload.gate if payload else ""))


@router.get(
    "/events/{int:event_id}/checkin-key",
    response={200: CheckinKeyOut, READ_ERRORS: ErrorOut},
    summary="Get an event's ticket-signing public key",
    description="What a scanner needs to verify the event's tickets offline: the Ed25519 public key (raw, base64url; "
    "and as PEM) and the token format. Needs `checkins:write` or `events:read`.",
)
def event_checkin_key(request: HttpRequest, event_id: int):
    principal = request.auth
    if not principal.scopes & {"checkins:write", "events:read"}:
        raise InsufficientScope(
            "This credential lacks the scope 'checkins:write' or 'events:read'.", required_scope="checkins:write"
        )
    key = tickets.event_checkin_key(_event(principal.organization, event_id))
    return {
        "eventId": key.event_id,
        "algorithm": "Ed25519",
        "publicKey": key.public_key,
        "publicKeyPem": key.public_key_pem,
        "tokenFormat": tickets.TOKEN_FORMAT,
        "links": {"self": f"/api/v1/events/{event_id}/checkin-key", "event": f"/api/v1/events/{event_id}"},
    }
