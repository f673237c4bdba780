"""The canonical JSON shape of each resource (camelCase), used by outbox payloads and the API."""

from __future__ import annotations

from datetime import UTC, datetime

from events.models import (
    ACTIVE_STATUSES,
    CheckIn,
    Event,
    Payment,
    Registration,
    RegistrationSession,
    Session,
    TicketType,
)

API = "/api/v1"


def _dt(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, exactly as the API's JSON encoder writes datetimes
    (``DjangoJSONEncoder``: milliseconds only when there are any, ``Z`` for UTC), written directly: a page of
    fifty events has some four hundred of them."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat()
    return (text[:23] if value.microsecond else text[:19]) + "Z"


#: the columns each shape is made of (``.values(*EVENT_FIELDS)`` gives a row ``event_rows`` can turn into events)
TICKET_TYPE_FIELDS = (
    "id", "event_id", "name", "description", "price", "currency", "capacity", "sales_start", "sales_end",
)  # fmt: skip
EVENT_FIELDS = (
    "id", "title", "slug", "description", "status", "cancellation_reason", "starts_at", "ends_at", "timezone",
    "venue_name", "venue_address", "online_url", "parent_id", "published_at", "created_at", "updated_at",
)  # fmt: skip


def _fields(obj: object, names: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name) for name in names}


def _ticket_type_shape(t: dict) -> dict:
    return {
        "id": t["id"],
        "eventId": t["event_id"],
        "name": t["name"],
        "description": t["description"],
        "price": str(t["price"]),
        "currency": t["currency"],
        "capacity": t["capacity"],
        "salesStart": _dt(t["sales_start"]),
        "salesEnd": _dt(t["sales_end"]),
    }


def _event_shape(e: dict, ticket_types: list[dict]) -> dict:
    return {
        "id": e["id"],
        "title": e["title"],
        "slug": e["slug"],
        "description": e["description"],
        "status": e["status"],
        "cancellationReason": e["cancellation_reason"] or None,
        "startsAt": _dt(e["starts_at"]),
        "endsAt": _dt(e["ends_at"]),
        "timezone": e["timezone"],
        "venue": {"name": e["venue_name"], "address": e["venue_address"]} if e["venue_name"] else None,
        "onlineUrl": e["online_url"] or None,
        "seriesId": e["parent_id"],
        "ticketTypes": ticket_types,
        "publishedAt": _dt(e["published_at"]),
        "createdAt": _dt(e["created_at"]),
        "updatedAt": _dt(e["updated_at"]),
        "links": event_links(e["id"], parent_id=e["parent_id"]),
    }


def ticket_type_data(tt: TicketType) -> dict:
    return _ticket_type_shape(_fields(tt, TICKET_TYPE_FIELDS))


def event_data(event: Event) -> dict:
    return _event_shape(_fields(event, EVENT_FIELDS), [ticket_type_data(tt) for tt in event.ticket_types.all()])


def event_rows(rows: list[dict]) -> list[dict]:
    """``event_data`` of many events read as ``.values(*EVENT_FIELDS)`` rows: their ticket types in one query,
    no model instances (what a page of the API's list costs)."""
    by_event: dict[int, list[dict]] = {row["id"]: [] for row in rows}
    if by_event:
        types = TicketType.objects.filter(event_id__in=list(by_event)).order_by("position", "id")
        for t in types.values(*TICKET_TYPE_FIELDS):
            by_event[t["event_id"]].append(_ticket_type_shape(t))
    return [_event_shape(row, by_event[row["id"]]) for row in rows]


def event_links(event_id: int, *, parent_id: int | None = None) -> dict[str, str]:
    """Where to go from an event: relative /api/v1 paths, camelCase names (``series`` only in a series)."""
    base = f"{API}/events/{event_id}"
    links = {
        "self": base,
        "sessions": f"{base}/sessions",
        "registrations": f"{API}/registrations?eventId={event_id}",
        "attendees": f"{base}/attendees",
        "statistics": f"{base}/statistics",
        "children": f"{base}/children",
    }
    if parent_id is not None:
        links["series"] = f"{API}/events/{parent_id}"
    links["calendar"] = f"{base}/calendar"
    links["checkinKey"] = f"{base}/checkin-key"
    return links


def session_data(session: Session) -> dict:
    """``taken``: seats held by active registrations (annotated by list queries, counted otherwise)."""
    taken = getattr(session, "taken", None)
    if taken is None:
        taken = session.registration_links.filter(registration__status__in=ACTIVE_STATUSES).count()
    return {
        "id": session.pk,
        "eventId": session.event_id,
        "title": session.title,
        "description": session.description,
        "startsAt": _dt(session.starts_at),
        "endsAt": _dt(session.ends_at),
        "room": session.room,
        "capacity": session.capacity,
        "speakers": [{"id": s.pk, "name": s.name, "company": s.company} for s in session.speakers.all()],
        "cancelled": session.cancelled,
        "taken": taken,
        "seatsLeft": None if session.capacity is None else max(session.capacity - taken, 0),
        "links": {
            "self": f"{API}/events/{session.event_id}/sessions/{session.pk}",
            "event": f"{API}/events/{session.event_id}",
            "calendar": f"{API}/events/{session.event_id}/sessions/{session.pk}/calendar",
        },
    }


REGISTRATION_FIELDS = (
    "id", "event_id", "ticket_type_id", "name", "email", "status", "code", "created_at", "confirmed_at",
    "cancelled_at",
)  # fmt: skip


def _registration_shape(r: dict, session_ids: list[int]) -> dict:
    return {
        "id": r["id"],
        "eventId": r["event_id"],
        "ticketTypeId": r["ticket_type_id"],
        "name": r["name"],
        "email": r["email"],
        "status": r["status"],
        "code": r["code"],
        "sessionIds": sorted(session_ids),
        "createdAt": _dt(r["created_at"]),
        "confirmedAt": _dt(r["confirmed_at"]),
        "cancelledAt": _dt(r["cancelled_at"]),
        "links": registration_links(r["id"], event_id=r["event_id"]),
    }


def registration_data(reg: Registration, *, session_ids: list[int] | None = None) -> dict:
    """``session_ids``: the chosen sessions when the caller has them at hand (saves a query)."""
    return _registration_shape(_fields(reg, REGISTRATION_FIELDS), session_ids if session_ids is not None else _session_ids(reg))


def registration_rows(rows: list[dict]) -> list[dict]:
    """``registration_data`` of many registrations read as ``.values(*REGISTRATION_FIELDS)`` rows: their
    sessions' ids in one query, no model instances."""
    chosen: dict[int, list[int]] = {row["id"]: [] for row in rows}
    if chosen:
        links = RegistrationSession.objects.filter(registration_id__in=list(chosen)).order_by()
        for registration_id, session_id in links.values_list("registration_id", "session_id"):
            chosen[registration_id].append(session_id)
    return [_registration_shape(row, chosen[row["id"]]) for row in rows]


def _session_ids(reg: Registration) -> list[int]:
    if "sessions" in getattr(reg, "_prefetched_objects_cache", {}):  # the caller prefetched the sessions themselves
        return [s.pk for s in reg.sessions.all()]
    return [link.session_id for link in reg.session_links.all()]


def registration_links(registration_id: int, *, event_id: int) -> dict[str, str]:
    base = f"{API}/registrations/{registration_id}"
    return {
        "self": base,
        "event": f"{API}/events/{event_id}",
        "ticket": f"{base}/ticket",
        "calendar": f"{base}/calendar",
        "payments": f"{API}/payments?registrationId={registration_id}",
    }


def checkin_attendee_data(reg: Registration) -> dict:
    """Who is at the door: what a scanner shows after a scan (name, ticket type, chosen sessions)."""
    sessions = sorted(reg.sessions.all(), key=lambda s: (s.starts_at, s.pk))
    return {
        "name": reg.name,
        "ticketType": {"id": reg.ticket_type_id, "name": reg.ticket_type.name},
        "sessions": [
            {
                "id": s.pk,
                "title": s.title,
                "startsAt": _dt(s.starts_at),
                "endsAt": _dt(s.ends_at),
                "room": s.room,
                "cancelled": s.cancelled,
            }
            for s in sessions
        ],
    }


def checkin_data(checkin: CheckIn) -> dict:
    return {
        "id": checkin.pk,
        "eventId": checkin.event_id,
        "registrationId": checkin.registration_id,
        "code": checkin.registration.code,
        "attendeeName": checkin.registration.name,
        "checkedInAt": _dt(checkin.checked_in_at),
        "recordedAt": _dt(checkin.recorded_at),
        "gate": checkin.gate or None,
        "nonce": checkin.nonce or None,
        "attendee": checkin_attendee_data(checkin.registration),
        "links": {
            "registration": f"{API}/registrations/{checkin.registration_id}",
            "event": f"{API}/events/{checkin.event_id}",
        },
    }


def payment_data(payment: Payment) -> dict:
    """Amounts are strings ("25.00"): exact, whatever the client's number type."""
    return {
        "id": payment.pk,
        "registrationId": payment.registration_id,
        "eventId": payment.registration.event_id,
        "amount": str(payment.amount),
        "refundedAmount": str(payment.refunded_amount),
        "currency": payment.currency,
        "status": payment.status,
        "method": payment.method,
        "reference": payment.reference,
        "failureReason": payment.failure_reason or None,
        "refundReason": payment.refund_reason or None,
        "createdAt": _dt(payment.created_at),
        "completedAt": _dt(payment.completed_at),
        "failedAt": _dt(payment.failed_at),
        "refundedAt": _dt(payment.refunded_at),
        "links": {
            "self": f"/api/v1/payments/{payment.pk}",
            "registration": f"/api/v1/registrations/{payment.registration_id}",
        },
    }
