"""django-q2 entry points: ids in, a service call, exceptions left to raise so the queue records them."""

from __future__ import annotations

from integrations import services

DELIVERY_BATCH = 50


def outbox_fan_out_task(outbox_event_ids: int | list[int]) -> int:
    """Fan out the outbox rows of one change, in commit order; returns how many deliveries were made."""
    ids = [outbox_event_ids] if isinstance(outbox_event_ids, int) else sorted(outbox_event_ids)
    return sum(len(services.outbox_fan_out(outbox_event_id=event_id)) for event_id in ids)


def webhook_deliveries_attempt_task(delivery_ids: list[int]) -> int:
    """The first attempt right after fan-out (or a redelivery); claimed like any other, so never sent twice."""
    return services.deliveries_send_due(limit=len(delivery_ids), delivery_ids=delivery_ids)


def webhooks_deliver_due_task() -> int:
    """Every minute: retries that have come due, and claims whose worker died."""
    return services.deliveries_send_due(limit=DELIVERY_BATCH)


def outbox_sweep_task() -> int:
    """Every minute: outbox rows a crashed worker never fanned out."""
    return len(services.outbox_sweep())
