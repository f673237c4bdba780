"""Small factories: plain functions over the services, so test data is made the way users make it."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Membership, Organization, Role, User
from events import services
from events.models import Event, TicketType

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_org(name: str = "Org", slug: str | None = None) -> Organization:
    n = next(_seq)
    return Organization.objects.create(name=f"{name} {n}", slug=slug or f"org-{n}")


def make_user(email: str | None = None, **extra) -> User:
    return User.objects.create_user(email=email or f"user{next(_seq)}@example.com", password=PASSWORD, **extra)


def make_member(org: Organization, role: str = Role.OWNER, email: str | None = None) -> User:
    user = make_user(email)
    Membership.objects.create(organization=org, user=user, role=role)
    return user


def make_event(
    org: Organization,
    *,
    publish: bool = False,
    title: str | None = None,
    capacity: int | None = 100,
    price: Decimal = Decimal("0"),
    days: int = 10,
    **fields,
) -> Event:
    start = timezone.now().replace(microsecond=0) + timedelta(days=days)
    defaults = {
        "title": title or f"Event {next(_seq)}",
        "starts_at": start,
        "ends_at": start + timedelta(hours=8),
        "timezone": "Europe/Berlin",
        "venue_name": "Main hall",
        "venue_address": "1 Main St",
        "online_url": "",
    }
    defaults.update(fields)
    event = services.event_create(org=org, actor=None, **defaults)
    if publish:
        make_ticket_type(event, capacity=capacity, price=price)
        services.event_publish(org=org, actor=None, event_id=event.pk)
        event.refresh_from_db()
    return event


def make_ticket_type(
    event: Event, *, name: str = "General", capacity: int | None = 100, price: Decimal = Decimal("0"), **fields
) -> TicketType:
    return services.ticket_type_create(
        org=event.organization, actor=None, event_id=event.pk, name=name, price=price, currency="EUR", capacity=capacity, **fields
    )
