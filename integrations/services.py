from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from integrations.models import EVENT_TYPES, OutboxEvent


def _check(event_type: str) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_publish must run inside the transaction of the change it announces")


def outbox_publish(*, org: Organization, event_type: str, data: dict) -> OutboxEvent:
    """Record that something happened, inside the caller's transaction.

    Nothing is sent from here: delivery (webhooks, connectors) reads committed outbox rows, so a
    rolled-back change never announces itself and a committed one is never lost.
    """
    _check(event_type)
    return OutboxEvent.objects.create(organization=org, event_type=event_type, payload=data)


def outbox_publish_many(*, org: Organization, events: list[tuple[str, dict]]) -> list[OutboxEvent]:
    """Several events caused by one change, in the order given, written in one statement."""
    for event_type, _data in events:
        _check(event_type)
    now = timezone.now()
    rows = [OutboxEvent(organization=org, event_type=t, payload=d, created_at=now) for t, d in events]
    return OutboxEvent.objects.bulk_create(rows)
