"""The canonical JSON shape of each resource (camelCase), used by outbox payloads and the API."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder

from events.models import ACTIVE_STATUSES, CheckIn, Event, Registration, Session, TicketType

_ENCODER = DjangoJSONEncoder()


def _dt(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, exactly as the API's JSON encoder writes datetimes."""
    return _ENCODER.default(value.astimezone(UTC)) if value else None


def ticket_type_data(tt: TicketType) -> dict:
    return {
        "id": tt.pk,
        "eventId": tt.event_id,
        "name": tt.name,
        "description": tt.description,
        "price": str(tt.price),
        "currency": tt.currency,
        "capacity": tt.capacity,
        "salesStart": _dt(tt.sales_start),
        "salesEnd": _dt(tt.sales_end),
    }


def event_data(event: Event) -> dict:
    return {
        "id": event.pk,
        "title": event.title,
        "slug": event.slug,
        "description": event.description,
        "status": event.status,
        "cancellationReason": event.cancellation_reason or None,
        "startsAt": _dt(event.starts_at),
        "endsAt": _dt(event.ends_at),
        "timezone": event.timezone,
        "venue": {"name": event.venue_name, "address": event.venue_address} if event.venue_name else None,
        "onlineUrl": event.online_url or None,
        "seriesId": event.parent_id,
        "ticketTypes": [ticket_type_data(tt) for tt in event.ticket_types.all()],
        "publishedAt": _dt(event.published_at),
        "createdAt": _dt(event.created_at),
        "updatedAt": _dt(event.updated_at),
    }


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
    }


def registration_data(reg: Registration, *, session_ids: list[int] | None = None) -> dict:
    """``session_ids``: the chosen sessions when the caller has them at hand (saves a query)."""
    return {
        "id": reg.pk,
        "eventId": reg.event_id,
        "ticketTypeId": reg.ticket_type_id,
        "name": reg.name,
        "email": reg.email,
        "status": reg.status,
        "code": reg.code,
        "sessionIds": sorted(session_ids if session_ids is not None else (s.pk for s in reg.sessions.all())),
        "createdAt": _dt(reg.created_at),
        "confirmedAt": _dt(reg.confirmed_at),
        "cancelledAt": _dt(reg.cancelled_at),
    }


def checkin_data(checkin: CheckIn) -> dict:
    return {
        "id": checkin.pk,
        "eventId": checkin.event_id,
        "registrationId": checkin.registration_id,
        "code": checkin.registration.code,
        "attendeeName": checkin.registration.name,
        "checkedInAt": _dt(checkin.checked_in_at),
        "gate": checkin.gate or None,
    }
