"""Writes. Each entry point owns its transaction, records an audit entry and publishes to the outbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.services import audit_log
from events import effects, snapshots
from events.errors import (
    AlreadyCheckedIn,
    AlreadyRegistered,
    BatchFailed,
    EventNotOpen,
    EventStateError,
    RegistrationCancelled,
    RegistrationNotConfirmed,
    SalesClosed,
    SalesNotOpen,
    SessionFull,
    TicketTypeSoldOut,
    ValidationFailed,
)
from events.models import (
    ACTIVE_STATUSES,
    CheckIn,
    Event,
    EventStatus,
    Registration,
    RegistrationSession,
    RegistrationStatus,
    Session,
    Speaker,
    TicketType,
)
from integrations.services import outbox_publish, outbox_publish_many
from portal.db import lock_timeout
from portal.errors import DomainError, InvalidState, NotFound

EVENT_FIELDS = (
    "title",
    "slug",
    "description",
    "venue_name",
    "venue_address",
    "online_url",
    "timezone",
    "starts_at",
    "ends_at",
    "parent_id",
)
SESSION_FIELDS = ("title", "description", "starts_at", "ends_at", "room", "capacity")
TICKET_TYPE_FIELDS = ("name", "description", "price", "currency", "capacity", "sales_start", "sales_end", "position")


def _changes(obj: Any, fields: dict[str, Any]) -> dict[str, list]:
    """Apply ``fields`` to ``obj`` and return what changed as {field: [old, new]} for the audit log."""
    changed = {}
    for name, value in fields.items():
        old = getattr(obj, name)
        if old != value:
            changed[name] = [_jsonable(old), _jsonable(value)]
            setattr(obj, name, value)
    return changed


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- Events ---------------------------------------------------------------------------------------


def _event_validate(*, org: Organization, event: Event) -> None:
    if not event.title.strip():
        raise ValidationFailed(_("Give the event a title."), field="title")
    if event.starts_at and event.ends_at and event.ends_at <= event.starts_at:
        raise ValidationFailed(_("The event must end after it starts."), field="ends_at")
    if not event.venue_name.strip() and not event.online_url:
        raise ValidationFailed(_("Give a venue, an online URL, or both."), field="venue_name")
    if event.parent_id is not None:
        parent = Event.objects.for_org(org).filter(pk=event.parent_id).first()
        if parent is None or parent.pk == event.pk:
            raise ValidationFailed(_("Choose another event of this organization as the series."), field="parent")
        if parent.parent_id is not None:
            raise ValidationFailed(_("A series cannot itself be part of a series."), field="parent")
    if Event.objects.for_org(org).filter(slug=event.slug).exclude(pk=event.pk).exists():
        raise ValidationFailed(_("Another event already uses this address."), field="slug")


def _unique_event_slug(*, org: Organization, title: str) -> str:
    base = slugify(title)[:70] or "event"
    taken = set(Event.objects.for_org(org).filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _event_snapshot(event: Event) -> dict:
    return snapshots.event_data(Event.objects.prefetch_related("ticket_types").get(pk=event.pk))


@transaction.atomic(durable=True)
def event_create(*, org: Organization, actor: User | None, **fields: Any) -> Event:
    data = {name: fields[name] for name in EVENT_FIELDS if name in fields}
    if not data.get("slug"):
        data["slug"] = _unique_event_slug(org=org, title=fields.get("title", ""))
    event = Event(organization=org, status=EventStatus.DRAFT, **data)
    _event_validate(org=org, event=event)
    event.save()
    audit_log(org=org, actor=actor, action="events.event.created", obj=event)
    outbox_publish(org=org, event_type="event.created", data=_event_snapshot(event))
    return event


@transaction.atomic(durable=True)
def event_update(*, org: Organization, actor: User | None, event_id: int, **fields: Any) -> Event:
    event = Event.objects.for_org(org).select_for_update().get(pk=event_id)
    if event.is_cancelled:
        raise EventStateError(_("A cancelled event cannot be changed."))
    changes = _changes(event, {name: fields[name] for name in EVENT_FIELDS if name in fields})
    if not changes:
        return event
    _event_validate(org=org, event=event)
    event.updated_at = timezone.now()
    event.sequence += 1
    event.save()
    audit_log(org=org, actor=actor, action="events.event.updated", obj=event, changes=changes)
    outbox_publish(org=org, event_type="event.updated", data=_event_snapshot(event))
    effects.event_changed(event)
    return event


@transaction.atomic(durable=True)
def event_publish(*, org: Organization, actor: User | None, event_id: int) -> Event:
    event = Event.objects.for_org(org).select_for_update().get(pk=event_id)
    if event.status != EventStatus.DRAFT:
        raise EventStateError(
            _("Only a draft can be published; this event is %(status)s.") % {"status": event.get_status_display().lower()}
        )
    if not event.ticket_types.exists():
        raise EventStateError(_("Add at least one ticket type before publishing, so people can register."))
    event.status = EventStatus.PUBLISHED
    event.published_at = event.updated_at = timezone.now()
    event.sequence += 1
    event.save(update_fields=["status", "published_at", "updated_at", "sequence"])
    audit_log(org=org, actor=actor, action="events.event.published", obj=event)
    outbox_publish(org=org, event_type="event.published", data=_event_snapshot(event))
    return event


@transaction.atomic(durable=True)
def event_cancel(*, org: Organization, actor: User | None, event_id: int, reason: str) -> Event:
    event = Event.objects.for_org(org).select_for_update().get(pk=event_id)
    if event.is_cancelled:
        raise EventStateError(_("This event is already cancelled."))
    if not reason.strip():
        raise ValidationFailed(_("Say why the event is cancelled: attendees will read it."), field="reason")
    event.status = EventStatus.CANCELLED
    event.cancellation_reason = reason.strip()
    event.cancelled_at = event.updated_at = timezone.now()
    event.sequence += 1
    event.save(update_fields=["status", "cancellation_reason", "cancelled_at", "updated_at", "sequence"])
    audit_log(org=org, actor=actor, action="events.event.cancelled", obj=event, changes={"reason": event.cancellation_reason})
    outbox_publish(org=org, event_type="event.cancelled", data=_event_snapshot(event))
    effects.event_changed(event)
    return event


# --- Speakers and sessions ------------------------------------------------------------------------


@transaction.atomic(durable=True)
def speaker_create(
    *, org: Organization, actor: User | None, name: str, email: str = "", company: str = "", bio: str = ""
) -> Speaker:
    if not name.strip():
        raise ValidationFailed(_("A speaker needs a name."), field="name")
    speaker = Speaker.objects.create(organization=org, name=name.strip(), email=email, company=company, bio=bio)
    audit_log(org=org, actor=actor, action="events.speaker.created", obj=speaker)
    return speaker


def _session_validate(*, session: Session, event: Event) -> None:
    if not session.title.strip():
        raise ValidationFailed(_("Give the session a title."), field="title")
    if session.ends_at <= session.starts_at:
        raise ValidationFailed(_("The session must end after it starts."), field="ends_at")
    if session.starts_at < event.starts_at or session.ends_at > event.ends_at:
        raise ValidationFailed(_("The session must take place during the event."), field="starts_at")


def _speakers(*, org: Organization, speaker_ids: Iterable[int]) -> list[Speaker]:
    ids = set(speaker_ids)
    speakers = list(Speaker.objects.for_org(org).filter(pk__in=ids))
    if len(speakers) != len(ids):
        raise ValidationFailed(_("Choose speakers of this organization."), field="speakers")
    return speakers


@transaction.atomic(durable=True)
def session_create(
    *, org: Organization, actor: User | None, event_id: int, speaker_ids: Iterable[int] = (), **fields: Any
) -> Session:
    event = Event.objects.for_org(org).get(pk=event_id)
    if event.is_cancelled:
        raise EventStateError(_("A cancelled event cannot get new sessions."))
    session = Session(organization=org, event=event, **{k: fields[k] for k in SESSION_FIELDS if k in fields})
    _session_validate(session=session, event=event)
    speakers = _speakers(org=org, speaker_ids=speaker_ids)
    session.save()
    session.speakers.set(speakers)
    audit_log(org=org, actor=actor, action="events.session.created", obj=session)
    outbox_publish(org=org, event_type="session.created", data=snapshots.session_data(session))
    return session


@transaction.atomic(durable=True)
def session_update(
    *, org: Organization, actor: User | None, session_id: int, speaker_ids: Iterable[int] | None = None, **fields: Any
) -> Session:
    session = Session.objects.for_org(org).select_for_update().select_related("event").get(pk=session_id)
    if session.cancelled:
        raise EventStateError(_("A cancelled session cannot be changed."))
    changes = _changes(session, {k: fields[k] for k in SESSION_FIELDS if k in fields})
    _session_validate(session=session, event=session.event)
    if speaker_ids is not None:
        speakers = _speakers(org=org, speaker_ids=speaker_ids)
        old = sorted(session.speakers.values_list("pk", flat=True))
        new = sorted(s.pk for s in speakers)
        if old != new:
            changes["speakers"] = [old, new]
            session.speakers.set(speakers)
    if not changes:
        return session
    session.sequence += 1
    session.save()
    audit_log(org=org, actor=actor, action="events.session.updated", obj=session, changes=changes)
    outbox_publish(org=org, event_type="session.updated", data=snapshots.session_data(session))
    effects.session_changed(session)
    return session


@transaction.atomic(durable=True)
def session_cancel(*, org: Organization, actor: User | None, session_id: int) -> Session:
    session = Session.objects.for_org(org).select_for_update().get(pk=session_id)
    if session.cancelled:
        raise EventStateError(_("This session is already cancelled."))
    session.cancelled = True
    session.cancelled_at = timezone.now()
    session.sequence += 1
    session.save(update_fields=["cancelled", "cancelled_at", "sequence"])
    audit_log(org=org, actor=actor, action="events.session.cancelled", obj=session)
    outbox_publish(org=org, event_type="session.cancelled", data=snapshots.session_data(session))
    effects.session_changed(session)
    return session


# --- Ticket types ---------------------------------------------------------------------------------


def _ticket_type_validate(tt: TicketType) -> None:
    if not tt.name.strip():
        raise ValidationFailed(_("Give the ticket type a name."), field="name")
    if tt.price is None or tt.price < 0:
        raise ValidationFailed(_("The price cannot be negative."), field="price")
    if len(tt.currency) != 3 or not tt.currency.isalpha():
        raise ValidationFailed(_("Use a three-letter currency code such as EUR or USD."), field="currency")
    tt.currency = tt.currency.upper()
    if tt.sales_start and tt.sales_end and tt.sales_end <= tt.sales_start:
        raise ValidationFailed(_("Sales must end after they start."), field="sales_end")


@transaction.atomic(durable=True)
def ticket_type_create(*, org: Organization, actor: User | None, event_id: int, **fields: Any) -> TicketType:
    event = Event.objects.for_org(org).select_for_update().get(pk=event_id)
    if event.is_cancelled:
        raise EventStateError(_("A cancelled event cannot get new ticket types."))
    tt = TicketType(organization=org, event=event, **{k: fields[k] for k in TICKET_TYPE_FIELDS if k in fields})
    _ticket_type_validate(tt)
    tt.save()
    audit_log(org=org, actor=actor, action="events.ticket_type.created", obj=tt)
    outbox_publish(org=org, event_type="event.updated", data=_event_snapshot(event))
    return tt


@transaction.atomic(durable=True)
def ticket_type_update(*, org: Organization, actor: User | None, ticket_type_id: int, **fields: Any) -> TicketType:
    with lock_timeout():
        tt = TicketType.objects.for_org(org).select_for_update().get(pk=ticket_type_id)
    changes = _changes(tt, {k: fields[k] for k in TICKET_TYPE_FIELDS if k in fields})
    if not changes:
        return tt
    _ticket_type_validate(tt)
    if "capacity" in changes and tt.capacity is not None:
        taken = tt.registrations.active().count()
        if tt.capacity < taken:
            raise ValidationFailed(
                _("%(taken)s seats are already taken: the capacity cannot be lower.") % {"taken": taken}, field="capacity"
            )
    tt.save()
    audit_log(org=org, actor=actor, action="events.ticket_type.updated", obj=tt, changes=changes)
    outbox_publish(org=org, event_type="event.updated", data=_event_snapshot(tt.event))
    return tt


# --- Registrations --------------------------------------------------------------------------------


def _lock_sessions(*, org: Organization, event: Event, session_ids: Iterable[int]) -> list[Session]:
    """Lock the chosen sessions in primary-key order (after the ticket type) and check their seats."""
    ids = sorted(set(session_ids))
    if not ids:
        return []
    sessions = list(
        Session.objects.for_org(org).filter(event=event, pk__in=ids, cancelled=False).select_for_update().order_by("pk")
    )
    if len(sessions) != len(ids):
        raise ValidationFailed(_("One of the chosen sessions is not available."), field="sessions")
    limited = [s.pk for s in sessions if s.capacity is not None]
    if limited:
        taken = dict(
            RegistrationSession.objects.filter(session_id__in=limited, registration__status__in=ACTIVE_STATUSES)
            .values_list("session_id")
            .annotate(n=Count("id"))
        )
        for session in sessions:
            if session.capacity is not None and taken.get(session.pk, 0) >= session.capacity:
                raise SessionFull(
                    _("The session “%(title)s” is full.") % {"title": session.title}, field="sessions", session_id=session.pk
                )
    return sessions


@transaction.atomic(durable=True)
def registration_create(
    *,
    org: Organization,
    actor: User | None,
    ticket_type_id: int,
    name: str,
    email: str,
    session_ids: Iterable[int] = (),
) -> Registration:
    """Take a seat, or answer why not. A retry with the same e-mail gets the same registration.

    The returned registration has ``created`` set to False when it already existed.
    """
    return _registration_create(
        org=org, actor=actor, ticket_type_id=ticket_type_id, name=name, email=email, session_ids=session_ids
    )


def _registration_name_email(*, name: str, email: str) -> tuple[str, str]:
    """The cleaned name and e-mail address of an attendee, or the reason they cannot be used."""
    email = email.strip().lower()
    name = name.strip()
    if not name:
        raise ValidationFailed(_("Tell us your name."), field="name")
    if not email or "@" not in email:
        raise ValidationFailed(_("Enter a valid e-mail address."), field="email")
    return name, email


def _registration_create(
    *,
    org: Organization,
    actor: User | None,
    ticket_type_id: int,
    name: str,
    email: str,
    session_ids: Iterable[int] = (),
) -> Registration:
    """``registration_create`` inside the caller's transaction (batches create many in one)."""
    name, email = _registration_name_email(name=name, email=email)
    with lock_timeout():
        tt = TicketType.objects.for_org(org).select_for_update(of=("self",)).select_related("event").get(pk=ticket_type_id)
        event = tt.event
        # One read under the lock answers both "is this a retry?" and "how many seats are taken?".
        seats = Registration.objects.filter(ticket_type=tt, status__in=ACTIVE_STATUSES).aggregate(
            taken=Count("id"), existing_id=Max("id", filter=Q(email=email))
        )
        if seats["existing_id"] is not None:
            existing = Registration.objects.get(pk=seats["existing_id"])
            existing.created = False
            return existing
        if event.status != EventStatus.PUBLISHED:
            raise EventNotOpen(_("Registration for this event is not open."))
        now = timezone.now()
        if tt.sales_start and now < tt.sales_start:
            raise SalesNotOpen(_("Sales for “%(name)s” have not started yet.") % {"name": tt.name}, field="ticket_type")
        if (tt.sales_end and now >= tt.sales_end) or now >= event.ends_at:
            raise SalesClosed(_("Sales for “%(name)s” have ended.") % {"name": tt.name}, field="ticket_type")
        if tt.capacity is not None and seats["taken"] >= tt.capacity:
            raise TicketTypeSoldOut(_("“%(name)s” is sold out.") % {"name": tt.name}, field="ticket_type", ticket_type_id=tt.pk)
        sessions = _lock_sessions(org=org, event=event, session_ids=session_ids)
    status = RegistrationStatus.CONFIRMED if tt.is_free else RegistrationStatus.PENDING_PAYMENT
    reg = Registration.objects.create(
        organization=org,
        event=event,
        ticket_type=tt,
        name=name,
        email=email,
        status=status,
        confirmed_at=now if status == RegistrationStatus.CONFIRMED else None,
    )
    if sessions:
        RegistrationSession.objects.bulk_create(
            [RegistrationSession(organization=org, registration=reg, session=s) for s in sessions]
        )
    audit_log(org=org, actor=actor, action="events.registration.created", obj=reg, actor_label="" if actor else email)
    data = snapshots.registration_data(reg, session_ids=[s.pk for s in sessions])
    published = [("registration.created", data)]
    if status == RegistrationStatus.CONFIRMED:
        published.append(("registration.confirmed", data))
    outbox_publish_many(org=org, events=published)
    if status == RegistrationStatus.CONFIRMED:
        effects.registration_confirmed(reg)
    reg.created = True
    return reg


def _registration_confirm(*, org: Organization, actor: User | None, reg: Registration) -> bool:
    if reg.status == RegistrationStatus.CONFIRMED:
        return False
    if reg.status == RegistrationStatus.CANCELLED:
        raise RegistrationCancelled(_("A cancelled registration cannot be confirmed."))
    reg.status = RegistrationStatus.CONFIRMED
    reg.confirmed_at = reg.updated_at = timezone.now()
    reg.sequence += 1
    reg.save(update_fields=["status", "confirmed_at", "updated_at", "sequence"])
    audit_log(org=org, actor=actor, action="events.registration.confirmed", obj=reg)
    outbox_publish(org=org, event_type="registration.confirmed", data=snapshots.registration_data(reg))
    effects.registration_confirmed(reg)
    return True


def _registration_cancel(*, org: Organization, actor: User | None, reg: Registration, reason: str = "") -> bool:
    if reg.status == RegistrationStatus.CANCELLED:
        return False
    reg.status = RegistrationStatus.CANCELLED
    reg.cancelled_at = reg.updated_at = timezone.now()
    reg.sequence += 1
    reg.save(update_fields=["status", "cancelled_at", "updated_at", "sequence"])
    audit_log(
        org=org, actor=actor, action="events.registration.cancelled", obj=reg, changes={"reason": reason} if reason else None
    )
    outbox_publish(org=org, event_type="registration.cancelled", data=snapshots.registration_data(reg))
    effects.registration_cancelled(reg)
    return True


def _lock_registration(*, org: Organization, registration_id: int) -> Registration:
    with lock_timeout():
        return Registration.objects.for_org(org).select_for_update().get(pk=registration_id)


@transaction.atomic(durable=True)
def registration_confirm(*, org: Organization, actor: User | None, registration_id: int) -> Registration:
    reg = _lock_registration(org=org, registration_id=registration_id)
    _registration_confirm(org=org, actor=actor, reg=reg)
    return reg


@transaction.atomic(durable=True)
def registration_cancel(*, org: Organization, actor: User | None, registration_id: int, reason: str = "") -> Registration:
    reg = _lock_registration(org=org, registration_id=registration_id)
    _registration_cancel(org=org, actor=actor, reg=reg, reason=reason)
    return reg


@transaction.atomic(durable=True)
def registration_update(
    *,
    org: Organization,
    actor: User | None,
    registration_id: int,
    name: str | None = None,
    email: str | None = None,
    session_ids: Iterable[int] | None = None,
) -> Registration:
    """Correct the attendee's name or e-mail address, or change the chosen sessions (None: unchanged).

    Checked like a new registration: an added session needs a free seat, and the new e-mail address
    must not hold another active seat of the same ticket type. A change re-renders the ticket.
    """
    reg = _lock_registration(org=org, registration_id=registration_id)
    if reg.status == RegistrationStatus.CANCELLED:
        raise RegistrationCancelled(_("A cancelled registration cannot be changed."), registration_id=reg.pk)
    name, email = _registration_name_email(name=reg.name if name is None else name, email=reg.email if email is None else email)
    changes = _changes(reg, {"name": name, "email": email})
    if "email" in changes:
        with lock_timeout():  # after the registration, as registration_create locks it: one at a time per e-mail
            TicketType.objects.for_org(org).select_for_update().only("pk").get(pk=reg.ticket_type_id)
        taken = Registration.objects.filter(ticket_type_id=reg.ticket_type_id, email=email, status__in=ACTIVE_STATUSES)
        if taken.exclude(pk=reg.pk).exists():
            raise AlreadyRegistered(_("%(email)s already holds a seat of this ticket type.") % {"email": email}, field="email")
    if session_ids is not None:
        old_ids = set(reg.session_links.values_list("session_id", flat=True))
        new_ids = set(session_ids)
        if new_ids != old_ids:
            with lock_timeout():
                added = _lock_sessions(org=org, event=reg.event, session_ids=new_ids - old_ids)
            RegistrationSession.objects.filter(registration=reg, session_id__in=old_ids - new_ids).delete()
            RegistrationSession.objects.bulk_create(
                [RegistrationSession(organization=org, registration=reg, session=s) for s in added]
            )
            changes["sessions"] = [sorted(old_ids), sorted(new_ids)]
    if not changes:
        return reg
    reg.updated_at = timezone.now()
    reg.sequence += 1
    reg.save(update_fields=["name", "email", "updated_at", "sequence"])
    audit_log(org=org, actor=actor, action="events.registration.updated", obj=reg, changes=changes)
    effects.registration_changed(reg)
    return reg


#: the most registrations one batch may carry
BATCH_LIMIT = 500


@transaction.atomic(durable=True)
def registrations_batch_create(*, org: Organization, actor: User | None, items: Sequence[dict[str, Any]]) -> list[Registration]:
    """Create many registrations all or nothing (each item: ``registration_create``'s keyword arguments).

    Every item is tried, so the answer lists every failing one; if any failed, ``BatchFailed`` carries
    them (index, code, message, target) and nothing is written, announced or sent.
    """
    if not items:
        raise ValidationFailed(_("Send at least one registration."), field="items")
    if len(items) > BATCH_LIMIT:
        raise ValidationFailed(_("Send at most %(limit)s registrations at once.") % {"limit": BATCH_LIMIT}, field="items")
    regs, failures = [], []
    for index, item in enumerate(items):
        try:
            with transaction.atomic():  # a failing item leaves nothing behind, the others go on
                regs.append(_registration_create(org=org, actor=actor, **item))
        except TicketType.DoesNotExist:
            failures.append(
                {
                    "index": index,
                    "code": NotFound.code,
                    "message": _("The requested ticket type could not be found."),
                    "target": "ticket_type_id",
                }
            )
        except DomainError as exc:
            failures.append({"index": index, "code": exc.code, "message": exc.message, "target": exc.field})
    if failures:
        raise BatchFailed(
            _("%(failed)s of %(total)s registrations could not be made, so none was.")
            % {"failed": len(failures), "total": len(items)},
            items=failures,
        )
    return regs


BULK_ACTIONS = {"confirm": _registration_confirm, "cancel": _registration_cancel}


@transaction.atomic(durable=True)
def registrations_bulk_update(
    *, org: Organization, actor: User | None, registration_ids: Iterable[int], action: str
) -> dict[str, int]:
    """Confirm or cancel many registrations at once: all or nothing.

    Returns how many changed and how many were already in that state (or could not change).
    """
    if action not in BULK_ACTIONS:
        raise ValidationFailed(_("Choose confirm or cancel."), field="action")
    ids = sorted(set(registration_ids))
    if not ids:
        raise ValidationFailed(_("Select at least one registration."), field="ids")
    with lock_timeout():
        regs = list(Registration.objects.for_org(org).filter(pk__in=ids).select_for_update().order_by("pk"))
    changed = skipped = 0
    for reg in regs:
        if action == "confirm" and reg.status == RegistrationStatus.CANCELLED:
            skipped += 1
            continue
        if BULK_ACTIONS[action](org=org, actor=actor, reg=reg):
            changed += 1
        else:
            skipped += 1
    return {"changed": changed, "skipped": skipped + (len(ids) - len(regs))}


# --- Check-in -------------------------------------------------------------------------------------


#: how far ahead of the server's clock a scanner's ``scannedAt`` may be (clock drift) before it is refused
CHECKIN_CLOCK_SKEW = timedelta(minutes=5)


@transaction.atomic(durable=True)
def checkin_perform(
    *,
    org: Organization,
    actor: User | None,
    registration_id: int,
    gate: str = "",
    nonce: str = "",
    checked_in_at: datetime | None = None,
) -> CheckIn:
    """Check a registration in once. ``nonce``: the scanner's id for this scan, so an offline upload sent
    twice answers with the same check-in (``replayed`` set) instead of a second one. ``checked_in_at``: when
    an offline scanner scanned (not in the future); the server's time otherwise."""
    reg = _lock_registration(org=org, registration_id=registration_id)
    now = timezone.now()
    if nonce:
        seen = CheckIn.objects.for_org(org).filter(nonce=nonce).select_related("registration").first()
        if seen is not None:
            if seen.registration_id != reg.pk:
                raise ValidationFailed(_("This scan id was already used for another ticket."), field="nonce")
            seen.replayed = True
            return seen
    if checked_in_at is not None:
        if checked_in_at > now + CHECKIN_CLOCK_SKEW:
            raise ValidationFailed(_("The scan time is in the future."), field="checked_in_at")
        checked_in_at = min(checked_in_at, now)
    if reg.status == RegistrationStatus.CANCELLED:
        raise RegistrationCancelled(_("This registration was cancelled."), registration_id=reg.pk)
    if reg.status != RegistrationStatus.CONFIRMED:
        raise RegistrationNotConfirmed(_("This registration is not confirmed yet (payment pending)."), registration_id=reg.pk)
    first = CheckIn.objects.filter(registration=reg).first()
    if first is not None:
        time = timezone.localtime(first.checked_in_at, reg.event.tz).strftime("%H:%M")
        raise AlreadyCheckedIn(
            _("Already checked in at %(time)s (%(gate)s).") % {"time": time, "gate": first.gate}
            if first.gate
            else _("Already checked in at %(time)s.") % {"time": time},
            checked_in_at=first.checked_in_at.isoformat(),
            gate=first.gate,
        )
    try:
        with transaction.atomic():
            checkin = CheckIn.objects.create(
                organization=org,
                event_id=reg.event_id,
                registration=reg,
                gate=gate,
                actor=actor,
                nonce=nonce,
                checked_in_at=checked_in_at or now,
                recorded_at=now,
            )
    except IntegrityError as exc:  # the row lock rules out a second check-in; a nonce taken by another scan can race
        raise InvalidState(_("Already checked in, or this scan id was already used.")) from exc
    checkin.replayed = False
    audit_log(org=org, actor=actor, action="events.checkin.completed", obj=reg)
    outbox_publish(org=org, event_type="checkin.completed", data=snapshots.checkin_data(checkin))
    return checkin
