"""Reads. Every selector starts from ``for_org(org)``: another organization's rows never come back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Organization
from events.models import (
    ACTIVE_STATUSES,
    CheckIn,
    Event,
    EventStatus,
    Registration,
    RegistrationStatus,
    Session,
    Speaker,
    TicketType,
)

EVENT_SORTS = {
    "starts": "starts_at",
    "-starts": "-starts_at",
    "title": "title",
    "-title": "-title",
    "created": "created_at",
    "-created": "-created_at",
    "registrations": "registration_count",
    "-registrations": "-registration_count",
}


def event_get(*, org: Organization, event_id: int) -> Event:
    return Event.objects.for_org(org).select_related("parent").get(pk=event_id)


def event_list(
    *, org: Organization, search: str = "", status: str = "", sort: str = "starts", counts: bool = True
) -> QuerySet[Event]:
    """``counts``: annotate ``registration_count`` (active registrations); the API, which does not show it,
    leaves the join and the grouping out."""
    qs = Event.objects.for_org(org)
    if counts:
        qs = qs.annotate(registration_count=Count("registrations", filter=Q(registrations__status__in=ACTIVE_STATUSES)))
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(venue_name__icontains=search) | Q(slug__icontains=search))
    if status in EventStatus.values:
        qs = qs.filter(status=status)
    return qs.order_by(EVENT_SORTS.get(sort, "starts_at"), "id")


def event_series_choices(*, org: Organization, exclude_id: int | None = None) -> QuerySet[Event]:
    qs = Event.objects.for_org(org).filter(parent__isnull=True)
    return qs.exclude(pk=exclude_id) if exclude_id else qs


def event_public_get(*, org_slug: str, event_slug: str) -> Event:
    """A published (or cancelled, so its page says so) event, by its public address."""
    return (
        Event.objects.select_related("organization")
        .exclude(status=EventStatus.DRAFT)
        .get(organization__slug=org_slug, slug=event_slug)
    )


def ticket_type_list(*, org: Organization, event: Event) -> list[TicketType]:
    """Ticket types with ``taken`` (active registrations) and ``seats_left`` (None = unlimited)."""
    types = list(
        TicketType.objects.for_org(org)
        .filter(event=event)
        .annotate(taken=Count("registrations", filter=Q(registrations__status__in=ACTIVE_STATUSES)))
        .order_by("position", "id")
    )
    now = timezone.now()
    for tt in types:
        tt.seats_left = None if tt.capacity is None else max(tt.capacity - tt.taken, 0)
        tt.is_on_sale = tt.on_sale(now) and now < event.ends_at
    return types


def ticket_type_get(*, org: Organization, ticket_type_id: int) -> TicketType:
    return TicketType.objects.for_org(org).select_related("event").get(pk=ticket_type_id)


def session_queryset(*, org: Organization, event_id: int) -> QuerySet[Session]:
    """The event's sessions with ``taken`` (seats held by active registrations), speakers prefetched."""
    return (
        Session.objects.for_org(org)
        .filter(event_id=event_id)
        .prefetch_related("speakers")
        .annotate(taken=Count("registration_links", filter=Q(registration_links__registration__status__in=ACTIVE_STATUSES)))
        .order_by("starts_at", "room", "id")
    )


def session_list(*, org: Organization, event: Event) -> list[Session]:
    """Sessions with ``taken`` and ``seats_left``, speakers prefetched."""
    sessions = list(session_queryset(org=org, event_id=event.pk))
    for s in sessions:
        s.seats_left = None if s.capacity is None else max(s.capacity - s.taken, 0)
    return sessions


def sessions_by_day(*, org: Organization, event: Event) -> list[tuple[date, list[Session]]]:
    days: dict[date, list[Session]] = {}
    for s in session_list(org=org, event=event):
        days.setdefault(timezone.localtime(s.starts_at, event.tz).date(), []).append(s)
    return sorted(days.items())


def session_get(*, org: Organization, session_id: int) -> Session:
    return Session.objects.for_org(org).select_related("event").get(pk=session_id)


def speaker_list(*, org: Organization) -> QuerySet[Speaker]:
    return Speaker.objects.for_org(org)


def registration_list(
    *,
    org: Organization,
    event: Event | None = None,
    search: str = "",
    status: str = "",
    ticket_type_id: int | None = None,
    checked_in: str = "",
) -> QuerySet[Registration]:
    qs = Registration.objects.for_org(org).select_related("ticket_type", "event", "checkin")
    if event is not None:
        qs = qs.filter(event=event)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(email__icontains=search) | Q(code__iexact=search.strip()))
    if status in RegistrationStatus.values:
        qs = qs.filter(status=status)
    if ticket_type_id:
        qs = qs.filter(ticket_type_id=ticket_type_id)
    if checked_in == "yes":
        qs = qs.filter(checkin__isnull=False)
    elif checked_in == "no":
        qs = qs.filter(checkin__isnull=True)
    return qs.order_by("-created_at", "-id")


def registration_get(*, org: Organization, registration_id: int) -> Registration:
    return Registration.objects.for_org(org).select_related("ticket_type", "event").get(pk=registration_id)


def registration_public_get(*, event: Event, code: str) -> Registration:
    return Registration.objects.filter(event=event, code=code).select_related("ticket_type").prefetch_related("sessions").get()


@dataclass(frozen=True)
class CheckinStats:
    expected: int
    checked_in: int

    @property
    def rate(self) -> int:
        return round(100 * self.checked_in / self.expected) if self.expected else 0


def checkin_stats(*, org: Organization, event: Event | None = None) -> CheckinStats:
    regs = Registration.objects.for_org(org).filter(status=RegistrationStatus.CONFIRMED)
    checkins = CheckIn.objects.for_org(org)
    if event is not None:
        regs, checkins = regs.filter(event=event), checkins.filter(event=event)
    return CheckinStats(expected=regs.count(), checked_in=checkins.count())


def checkin_search(*, org: Organization, event: Event, query: str, limit: int = 20) -> list[Registration]:
    query = query.strip()
    if not query:
        return []
    qs = (
        Registration.objects.for_org(org)
        .filter(event=event)
        .filter(Q(code__iexact=query) | Q(name__icontains=query) | Q(email__icontains=query))
        .select_related("ticket_type", "checkin")
        .order_by("name", "id")
    )
    return list(qs[:limit])


def registrations_per_day(*, org: Organization, days: int = 30, now: datetime | None = None) -> list[tuple[date, int]]:
    """Active registrations created per day over the last ``days`` days (UTC), zero days included."""
    today = (now or timezone.now()).date()
    start = today - timedelta(days=days - 1)
    counts = dict(
        Registration.objects.for_org(org)
        .active()
        .filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]


def upcoming_events(*, org: Organization, limit: int = 5) -> QuerySet[Event]:
    return event_list(org=org).filter(ends_at__gte=timezone.now()).exclude(status=EventStatus.CANCELLED)[:limit]


def event_has_open_sales(*, event: Event) -> bool:
    now = timezone.now()
    if not event.is_published or now >= event.ends_at:
        return False
    return event.ticket_types.filter(
        Q(sales_start__isnull=True) | Q(sales_start__lte=now), Q(sales_end__isnull=True) | Q(sales_end__gt=now)
    ).exists()


# --- Registrations table and check-in desk --------------------------------------------------------


def checkin_event_list(*, org: Organization, now: datetime | None = None) -> QuerySet[Event]:
    """Published events that are running or still to come, soonest first, with ``expected``
    (confirmed registrations) and ``checked_in`` counted in the same query."""
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    now = now or timezone.now()

    def _count(qs: QuerySet) -> Coalesce:
        counted = qs.filter(event=OuterRef("pk")).order_by().values("event").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return (
        Event.objects.for_org(org)
        .filter(status=EventStatus.PUBLISHED, ends_at__gt=now)
        .annotate(
            expected=_count(Registration.objects.filter(status=RegistrationStatus.CONFIRMED)),
            checked_in=_count(CheckIn.objects.all()),
        )
        .order_by("starts_at", "id")
    )


def registration_by_code(*, org: Organization, code: str, event: Event | None = None) -> Registration | None:
    """The registration whose ticket code is exactly ``code`` (as a scanner types it, any case), if any;
    within ``event`` when given, else in any event of ``org``."""
    code = code.strip()
    if not code:
        return None
    qs = Registration.objects.for_org(org).filter(code__iexact=code)
    if event is not None:
        qs = qs.filter(event=event)
    return qs.select_related("ticket_type", "checkin").first()


# --- Public registration form (public event page) -------------------------------------------------


def ticket_type_sale_list(*, org: Organization, event: Event) -> list[TicketType]:
    """Ticket types with ``is_on_sale`` but no seat counts: enough to check a registration POST cheaply
    (the service counts the seats under its lock anyway)."""
    types = list(TicketType.objects.for_org(org).filter(event=event).order_by("position", "id"))
    now = timezone.now()
    for tt in types:
        tt.is_on_sale = tt.on_sale(now) and now < event.ends_at
    return types


def session_choice_list(*, org: Organization, event: Event) -> list[Session]:
    """The event's sessions, without seat counts or speakers: the choices of a registration POST."""
    return list(Session.objects.for_org(org).filter(event=event).order_by("starts_at", "room", "id"))


@dataclass(frozen=True)
class EventStatistics:
    by_status: dict[str, int]  # every RegistrationStatus value, zeros included
    checked_in: int  # confirmed registrations checked in
    ticket_types: list[TicketType]  # with ``taken`` and ``seats_left``

    @property
    def confirmed(self) -> int:
        return self.by_status[RegistrationStatus.CONFIRMED]

    @property
    def checkin_rate(self) -> float:
        """Checked in over confirmed, 0 to 1 (0 while nobody is confirmed)."""
        return round(self.checked_in / self.confirmed, 4) if self.confirmed else 0.0


def event_statistics(*, org: Organization, event: Event) -> EventStatistics:
    """Registrations by status, seats per ticket type and the check-in count of one event: two queries."""
    counts = (
        Registration.objects.for_org(org)
        .filter(event=event)
        .aggregate(
            checked_in=Count("pk", filter=Q(status=RegistrationStatus.CONFIRMED, checkin__isnull=False)),
            **{value: Count("pk", filter=Q(status=value)) for value in RegistrationStatus.values},
        )
    )
    return EventStatistics(
        by_status={value: counts[value] for value in RegistrationStatus.values},
        checked_in=counts["checked_in"],
        ticket_types=ticket_type_list(org=org, event=event),
    )
