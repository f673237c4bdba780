"""django-q2 entry points: ids in, a service call, exceptions left to raise so the queue records them."""

from __future__ import annotations

import time

from integrations import services


def outbox_fan_out_task(outbox_event_ids: int | list[int], org_id: int | None = None) -> int:
    """After a change commits: fan out its outbox rows, with its organization's other rows still waiting.

    Under load an earlier run has often taken them already (see ``services.outbox_fan_out_pending``).
    Returns how many deliveries were made.
    """
    ids = [outbox_event_ids] if isinstance(outbox_event_ids, int) else list(outbox_event_ids)
    return len(services.outbox_fan_out_pending(outbox_event_ids=ids, org_id=org_id))


def webhook_deliveries_attempt_task(delivery_ids: list[int]) -> int:
    """The first attempt right after fan-out (or a redelivery); claimed like any other, so never sent twice."""
    return services.deliveries_send_due(limit=len(delivery_ids), delivery_ids=delivery_ids)


def webhooks_deliver_due_task() -> int:
    """Every minute: retries that have come due, and claims whose worker died, a batch at a time.

    Starts no new batch after ``BATCH_SEND_BUDGET``, so the task ends well within the queue's timeout;
    whatever is left is due for the next run.
    """
    started, total = time.monotonic(), 0
    while claimed := services.deliveries_send_due(limit=services.DELIVERY_BATCH):
        total += claimed
        if time.monotonic() - started > services.BATCH_SEND_BUDGET.total_seconds():
            break
    return total


def outbox_sweep_task() -> int:
    """Every minute: outbox rows a crashed worker never fanned out."""
    return len(services.outbox_sweep())


def endpoint_disabled_email_task(endpoint_id: int) -> int:
    """After an endpoint was disabled automatically (410, days of failures): tell its organization's owners and admins."""
    from integrations.emails import endpoint_disabled_email_send

    return endpoint_disabled_email_send(endpoint_id=endpoint_id)
