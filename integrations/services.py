from __future__ import annotations

from django.db import transaction

from accounts.models import Organization
from integrations.models import EVENT_TYPES, OutboxEvent


def outbox_publish(*, org: Organization, event_type: str, data: dict) -> OutboxEvent:
    """Record that something happened, inside the caller's transaction.

    Nothing is sent from here: delivery (webhooks, connectors) reads committed outbox rows, so a
    rolled-back change never announces itself and a committed one is never lost.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_publish must run inside the transaction of the change it announces")
    return OutboxEvent.objects.create(organization=org, event_type=event_type, payload=data)
