"""/api/v1/events/{eventId}/sessions and /api/v1/speakers: an event's programme, over the API."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime

from events import selectors, services, snapshots
from events.errors import ValidationFailed
from events.models import Session, Speaker
from portal.api import ErrorOut, listcache
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, paginate, sort_order
from portal.api.schemas import Body

router = Router(tags=["sessions"])

SESSION_SORT_FIELDS = {"startsAt": "starts_at", "endsAt": "ends_at", "title": "title", "room": "room", "id": "id"}
SPEAKER_SORT_FIELDS = {"name": "name", "company": "company", "id": "id"}

#: the services' field names → the API's names (the envelope's ``target``)
FIELD_NAMES = {
    "title": "title",
    "description": "description",
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "room": "room",
    "capacity": "capacity",
    "speakers": "speakerIds",
    "name": "name",
    "email": "email",
    "company": "company",
    "bio": "bio",
}

#: API names → the services' keyword arguments
SERVICE_NAMES = {
    "title": "title",
    "description": "description",
    "startsAt": "starts_at",
    "endsAt": "ends_at",
    "room": "room",
    "capacity": "capacity",
    "speakerIds": "speaker_ids",
}


# --- Schemas --------------------------------------------------------------------------------------


class SpeakerRef(Schema):
    id: int
    name: str
    company: str


class SessionOut(Schema):
    id: int
    eventId: int
    title: str
    description: str
    startsAt: datetime
    endsAt: datetime
    room: str
    capacity: int | None
    speakers: list[SpeakerRef]
    cancelled: bool
    taken: int = Field(..., description="Seats held by pending or confirmed registrations.")
    seatsLeft: int | None = Field(..., description="Empty when the session has no capacity limit.")
    links: dict[str, str] = Field(
        ...,
        description="Related resources (relative URLs): self, event, calendar.",
        examples=[
            {
                "self": "/api/v1/events/42/sessions/5",
                "event": "/api/v1/events/42",
                "calendar": "/api/v1/events/42/sessions/5/calendar",
            }
        ],
    )


class SessionList(Schema):
    data: list[SessionOut]
    pagination: Pagination


class SessionIn(Body):
    title: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    startsAt: AwareDatetime
    endsAt: AwareDatetime
    room: str = Field("", max_length=100)
    capacity: int | None = Field(None, ge=1)
    speakerIds: list[int] = Field(default_factory=list)


class SessionPatch(Body):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    startsAt: AwareDatetime | None = None
    endsAt: AwareDatetime | None = None
    room: str | None = Field(None, max_length=100)
    capacity: int | None = Field(None, ge=1, description="Send null to remove the limit.")
    speakerIds: list[int] | None = None


class SpeakerIn(Body):
    name: str = Field(..., min_length=1, max_length=200)
    company: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    bio: str = ""


class SpeakerOut(Schema):
    id: int
    name: str
    company: str
    email: str
    bio: str


class SpeakerList(Schema):
    data: list[SpeakerOut]
    pagination: Pagination


# --- Helpers --------------------------------------------------------------------------------------


def _session_out(session: Session) -> dict:
    return snapshots.session_data(session)


def _session_get(org, event_id: int, session_id: int) -> Session:
    """A session of this event of the caller's organization; any other answers 404 like a missing one."""
    return selectors.session_queryset(org=org, event_id=event_id).get(pk=session_id)


def _session_check(org, event_id: int, session_id: int) -> None:
    Session.objects.for_org(org).filter(event_id=event_id).only("pk").get(pk=session_id)


def _speaker_out(speaker: Speaker) -> dict:
    return {
        "id": speaker.pk,
        "name": speaker.name,
        "company": speaker.company,
        "email": speaker.email,
        "bio": speaker.bio,
    }


def _service_fields(data: dict) -> dict:
    for name in ("title", "startsAt", "endsAt"):
        if name in data and data[name] is None:
            raise ValidationFailed(f"{name} cannot be empty.", field=name)
    fields = {SERVICE_NAMES[name]: value for name, value in data.items() if name in SERVICE_NAMES}
    for name in ("description", "room"):
        if name in fields and fields[name] is None:
            fields[name] = ""
    return fields


# --- Sessions -------------------------------------------------------------------------------------


@router.get(
    "/events/{int:event_id}/sessions",
    auth=scoped("events:read"),
    response={200: SessionList, READ_ERRORS: ErrorOut},
    summary="List an event's sessions",
    description="Each session with its speakers, `taken` seats and `seatsLeft`. Filter with `room` and "
    "`cancelled=true|false`; sort with `sort=startsAt` (default), `title`, `endsAt`, `room` (prefix `-` to "
    "reverse); page with `page`+`pageSize` or `limit`+`offset`. Needs `events:read`.",
)
def session_list(
    request: HttpRequest,
    response: HttpResponse,
    event_id: int,
    room: str | None = None,
    cancelled: bool | None = None,
    sort: str = "startsAt",
):
    principal = require_scope(request, "events:read")
    if (repeat := listcache.answer_repeat(request, principal.organization)) is not None:
        return repeat
    event = selectors.event_get(org=principal.organization, event_id=event_id)
    qs = selectors.session_queryset(org=principal.organization, event_id=event.pk)
    if room is not None:
        qs = qs.filter(room=room)
    if cancelled is not None:
        qs = qs.filter(cancelled=cancelled)
    return paginate(
        request, response, qs.order_by(*sort_order(sort, SESSION_SORT_FIELDS)), _session_out, cache_for=principal.organization
    )


@router.get(
    "/events/{int:event_id}/sessions/{int:session_id}",
    auth=scoped("events:read"),
    response={200: SessionOut, READ_ERRORS: ErrorOut},
    summary="Get a session",
    description="Needs `events:read`.",
)
def session_detail(request: HttpRequest, event_id: int, session_id: int):
    principal = require_scope(request, "events:read")
    return _session_out(_session_get(principal.organization, event_id, session_id))


@router.post(
    "/events/{int:event_id}/sessions",
    auth=scoped("events:write"),
    response={201: SessionOut, WRITE_ERRORS: ErrorOut},
    summary="Create a session",
    description="The session must take place during the event; `speakerIds` are speakers of the caller's "
    "organization (see `POST /speakers`). A cancelled event answers 409. Needs `events:write`.",
)
def session_create(request: HttpRequest, event_id: int, payload: SessionIn):
    principal = require_scope(request, "events:write")
    org = principal.organization
    with api_names(FIELD_NAMES):
        session = services.session_create(org=org, actor=None, event_id=event_id, **_service_fields(payload.dict()))
    return Status(201, _session_out(_session_get(org, event_id, session.pk)))


@router.patch(
    "/events/{int:event_id}/sessions/{int:session_id}",
    auth=scoped("events:write"),
    response={200: SessionOut, WRITE_ERRORS: ErrorOut},
    summary="Update a session",
    description="Send only the fields to change; `speakerIds` replaces the speakers. A cancelled session answers "
    "409. Needs `events:write`.",
)
def session_update(request: HttpRequest, event_id: int, session_id: int, payload: SessionPatch):
    principal = require_scope(request, "events:write")
    org = principal.organization
    _session_check(org, event_id, session_id)
    fields = _service_fields(payload.dict(exclude_unset=True))
    with api_names(FIELD_NAMES):
        services.session_update(org=org, actor=None, session_id=session_id, **fields)
    return _session_out(_session_get(org, event_id, session_id))


@router.post(
    "/events/{int:event_id}/sessions/{int:session_id}/cancel",
    auth=scoped("events:write"),
    response={200: SessionOut, WRITE_ERRORS: ErrorOut},
    summary="Cancel a session",
    description="Cancelling a cancelled session answers 409. Needs `events:write`.",
)
def session_cancel(request: HttpRequest, event_id: int, session_id: int):
    principal = require_scope(request, "events:write")
    org = principal.organization
    _session_check(org, event_id, session_id)
    with api_names(FIELD_NAMES):
        services.session_cancel(org=org, actor=None, session_id=session_id)
    return _session_out(_session_get(org, event_id, session_id))


@router.get(
    "/events/{int:event_id}/sessions/{int:session_id}/speakers",
    auth=scoped("events:read"),
    response={200: list[SpeakerOut], READ_ERRORS: ErrorOut},
    summary="List a session's speakers",
    description="Sorted by name. Needs `events:read`.",
)
def session_speakers(request: HttpRequest, event_id: int, session_id: int):
    principal = require_scope(request, "events:read")
    org = principal.organization
    _session_check(org, event_id, session_id)
    speakers = selectors.speaker_list(org=org).filter(sessions__pk=session_id).order_by("name", "id")
    return [_speaker_out(s) for s in speakers]


# --- Speakers -------------------------------------------------------------------------------------


@router.get(
    "/speakers",
    auth=scoped("events:read"),
    response={200: SpeakerList, READ_ERRORS: ErrorOut},
    summary="List speakers",
    description="The organization's speakers. Filter with `q` (name or company); sort with `sort=name` (default), "
    "`company`; page with `page`+`pageSize` or `limit`+`offset`. Needs `events:read`.",
)
def speaker_list(request: HttpRequest, response: HttpResponse, q: str = "", sort: str = "name"):
    principal = require_scope(request, "events:read")
    qs = selectors.speaker_list(org=principal.organization)
    if q.strip():
        qs = qs.filter(Q(name__icontains=q.strip()) | Q(company__icontains=q.strip()))
    return paginate(request, response, qs.order_by(*sort_order(sort, SPEAKER_SORT_FIELDS)), _speaker_out)


@router.post(
    "/speakers",
    auth=scoped("events:write"),
    response={201: SpeakerOut, WRITE_ERRORS: ErrorOut},
    summary="Create a speaker",
    description="Use the new speaker's `id` in a session's `speakerIds`. Needs `events:write`.",
)
def speaker_create(request: HttpRequest, payload: SpeakerIn):
    principal = require_scope(request, "events:write")
    email = payload.email.strip()
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed("Enter a valid e-mail address.", field="email") from None
    with api_names(FIELD_NAMES):
        speaker = services.speaker_create(
            org=principal.organization,
            actor=None,
            name=payload.name,
            company=payload.company.strip(),
            email=email,
            bio=payload.bio,
        )
    return Status(201, _speaker_out(speaker))
