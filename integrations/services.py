from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.models import Organization, User
from accounts.services import audit_log
from integrations import webhooks
from integrations.errors import EndpointDisabled, InvalidEventTypes, InvalidWebhookUrl
from integrations.models import (
    EVENT_TYPES,
    DeliveryStatus,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    webhook_secret,
)
from portal.errors import NotFound

#: the wait after each failed attempt (the first attempt is immediate): 8 attempts, then failed
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
#: how long a claimed delivery is kept from other workers (longer than one send with its 15 s timeout)
CLAIM_LEASE = timedelta(minutes=2)
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
SECRET_ROTATION_OVERLAP = timedelta(hours=24)
#: an outbox row still undispatched after this long was left behind by a crashed worker
SWEEP_AFTER = timedelta(minutes=1)


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
    event = OutboxEvent.objects.create(organization=org, event_type=event_type, payload=data)
    outbox_dispatch_on_commit([event.pk])
    return event


def outbox_publish_many(*, org: Organization, events: list[tuple[str, dict]]) -> list[OutboxEvent]:
    """Several events caused by one change, in the order given, written in one statement."""
    for event_type, _data in events:
        _check(event_type)
    now = timezone.now()
    rows = [OutboxEvent(organization=org, event_type=t, payload=d, created_at=now) for t, d in events]
    created = OutboxEvent.objects.bulk_create(rows)
    outbox_dispatch_on_commit([e.pk for e in created])
    return created


def _queue_is_this_database() -> bool:
    """django-q2's ORM broker on the default database (the embedded set-up and the benchmark's)."""
    q = settings.Q_CLUSTER
    return q.get("orm") == "default" and not q.get("sync")


def outbox_dispatch_on_commit(outbox_event_ids: list[int]) -> None:
    """Queue one fan-out task for these outbox rows (ids only), to run once the change is committed.

    With the ORM broker the queue row is written inside the change's own transaction: it commits or
    rolls back with it, and costs no second commit on the registration hot path. With Redis the task
    is pushed after commit. Either way the sweep catches any row whose task went missing.
    """
    enqueue = partial(async_task, "integrations.tasks.outbox_fan_out_task", list(outbox_event_ids))
    if _queue_is_this_database():
        enqueue()
    else:
        # robust: a queue hiccup must not turn a committed change into an error
        transaction.on_commit(enqueue, robust=True)


# --- webhook endpoints ---------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        raise InvalidWebhookUrl(_("This URL is too long."), field="url")
    if problem := webhooks.url_problem(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS):
        raise InvalidWebhookUrl(problem, field="url")
    return url


def _clean_event_types(event_types: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(event_types or []))
    if unknown := [t for t in chosen if t not in EVENT_TYPES]:
        raise InvalidEventTypes(
            _("Unknown event type: %(types)s.") % {"types": ", ".join(sorted(unknown))}, field="event_types", unknown=unknown
        )
    # keep the documented order, so the same choice always reads the same
    return [t for t in EVENT_TYPES if t in chosen]


def _endpoint_for_update(*, org: Organization, endpoint_id: int) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.objects.for_org(org).select_for_update().get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound(_("The requested webhook endpoint could not be found."), endpoint_id=endpoint_id) from None


@transaction.atomic(durable=True)
def webhook_endpoint_create(
    *, org: Organization, actor: User | None, url: str, event_types: list[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.create(
        organization=org,
        url=_clean_url(url),
        event_types=_clean_event_types(event_types),
        description=(description or "").strip()[:200],
    )
    audit_log(
        org=org,
        actor=actor,
        action="integrations.webhook_endpoint.created",
        obj=endpoint,
        changes={"url": endpoint.url, "event_types": endpoint.event_types},
    )
    return endpoint


@transaction.atomic(durable=True)
def webhook_endpoint_update(
    *,
    org: Organization,
    actor: User | None,
    endpoint_id: int,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change what was given (None leaves a field as it is); an empty event type list means all events."""
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    new = {}
    if url is not None:
        new["url"] = _clean_url(url)
    if event_types is not None:
        new["event_types"] = _clean_event_types(event_types)
    if description is not None:
        new["description"] = description.strip()[:200]
    changes = {k: [getattr(endpoint, k), v] for k, v in new.items() if getattr(endpoint, k) != v}
    if changes:
        for field, (_old, value) in changes.items():
            setattr(endpoint, field, value)
        endpoint.save(update_fields=list(changes))
        audit_log(org=org, actor=actor, action="integrations.webhook_endpoint.updated", obj=endpoint, changes=changes)
    return endpoint


@transaction.atomic(durable=True)
def webhook_endpoint_enable(*, org: Organization, actor: User | None, endpoint_id: int) -> WebhookEndpoint:
    """Switch an endpoint back on: its pending deliveries resume on their schedule."""
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    if not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, "", None
        endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since"])
        audit_log(org=org, actor=actor, action="integrations.webhook_endpoint.enabled", obj=endpoint)
    return endpoint


@transaction.atomic(durable=True)
def webhook_endpoint_disable(
    *, org: Organization, actor: User | None, endpoint_id: int, reason: str = "Disabled by a user."
) -> WebhookEndpoint:
    """Stop sending to an endpoint; its deliveries wait (pending) until it is enabled again."""
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    _disable(endpoint, actor=actor, reason=reason)
    return endpoint


def _disable(endpoint: WebhookEndpoint, *, actor: User | None, reason: str) -> None:
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason[:200]
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    audit_log(
        org=endpoint.organization,
        actor=actor,
        action="integrations.webhook_endpoint.disabled",
        obj=endpoint,
        changes={"reason": endpoint.disabled_reason},
        actor_label="" if actor is not None else "system",
    )


@transaction.atomic(durable=True)
def webhook_endpoint_rotate_secret(*, org: Organization, actor: User | None, endpoint_id: int) -> WebhookEndpoint:
    """Give the endpoint a new secret; the old one keeps signing too for 24 hours, so receivers can switch."""
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_ROTATION_OVERLAP
    endpoint.secret = webhook_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    audit_log(
        org=org,
        actor=actor,
        action="integrations.webhook_endpoint.secret_rotated",
        obj=endpoint,
        changes={"previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()},
    )
    return endpoint


# --- fan-out and delivery ------------------------------------------------------------------------------


def outbox_fan_out(*, outbox_event_id: int) -> list[int]:
    """One pending delivery per enabled endpoint subscribed to the event; returns the ids of new deliveries.

    Safe to run twice (the unique endpoint × event constraint): a second run creates nothing. The first
    attempt of each new delivery is queued after commit.
    """
    with transaction.atomic():
        event = OutboxEvent.objects.select_for_update().filter(pk=outbox_event_id).first()
        if event is None:
            return []
        now = timezone.now()
        endpoints = [
            e
            for e in WebhookEndpoint.objects.for_org(event.organization_id).filter(enabled=True).order_by("id")
            if e.subscribes_to(event.event_type)
        ]
        existing = set(WebhookDelivery.objects.filter(outbox_event=event).values_list("endpoint_id", flat=True))
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(organization_id=event.organization_id, endpoint=e, outbox_event=event, next_attempt_at=now)
                for e in endpoints
                if e.pk not in existing
            ],
            ignore_conflicts=True,
        )
        new_ids = list(
            WebhookDelivery.objects.filter(outbox_event=event)
            .exclude(endpoint_id__in=existing)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if event.dispatched_at is None:
            event.dispatched_at = now
            event.save(update_fields=["dispatched_at"])
        if new_ids:
            # robust: if queueing fails, the every-minute delivery task sends them anyway
            transaction.on_commit(partial(async_task, "integrations.tasks.webhook_deliveries_attempt_task", new_ids), robust=True)
    return new_ids


def outbox_sweep(*, older_than: timedelta = SWEEP_AFTER, limit: int = 500) -> list[int]:
    """Fan out committed outbox rows nobody dispatched (a worker crashed or the queue lost the task)."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for event_id in ids:
        outbox_fan_out(outbox_event_id=event_id)
    return ids


def deliveries_claim(*, limit: int, now: datetime, delivery_ids: list[int] | None = None) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker and return their ids, oldest event first.

    Rows locked by another claimer are skipped (PostgreSQL), and each claimed row's ``next_attempt_at``
    moves ``CLAIM_LEASE`` ahead: no other worker takes it meanwhile, and if this worker dies the row
    becomes due again when the lease runs out.
    """
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
        ).order_by("next_attempt_at", "outbox_event_id", "id")
        if delivery_ids is not None:
            due = due.filter(pk__in=delivery_ids)
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True, of=("self",))
        else:
            due = due.select_for_update()
        ids = list(due.values_list("id", flat=True)[:limit])
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now + CLAIM_LEASE)
    return ids


def next_retry_delay(attempt_count: int) -> timedelta | None:
    """The wait after the ``attempt_count``-th failed attempt, or None when the delivery has failed for good."""
    if attempt_count <= len(RETRY_DELAYS):
        return RETRY_DELAYS[attempt_count - 1]
    return None


def delivery_attempt(*, delivery_id: int) -> WebhookAttempt | None:
    """Send one delivery now and record the outcome. The request runs outside any transaction of ours.

    Returns the attempt, or None when there was nothing to send (already done, or endpoint disabled).
    """
    delivery = WebhookDelivery.objects.select_related("endpoint", "outbox_event", "organization").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING or not delivery.endpoint.enabled:
        return None
    endpoint, event = delivery.endpoint, delivery.outbox_event
    body = webhooks.message_body(event)
    headers = webhooks.signed_headers(secrets=endpoint.signing_secrets(timezone.now()), msg_id=event.public_id, body=body)
    attempted_at = timezone.now()
    result = webhooks.send(url=endpoint.url, headers=headers, body=body, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)
    return _delivery_record(delivery_id=delivery.pk, attempted_at=attempted_at, result=result)


def deliveries_send_due(*, limit: int = 50, delivery_ids: list[int] | None = None) -> int:
    """Claim due deliveries (optionally only some) and attempt each; returns how many were attempted."""
    claimed = deliveries_claim(limit=limit, now=timezone.now(), delivery_ids=delivery_ids)
    for delivery_id in claimed:
        delivery_attempt(delivery_id=delivery_id)
    return len(claimed)


@transaction.atomic
def _delivery_record(*, delivery_id: int, attempted_at: datetime, result: webhooks.SendResult) -> WebhookAttempt:
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=delivery.endpoint_id)
    now = timezone.now()
    attempt = WebhookAttempt.objects.create(
        organization_id=delivery.organization_id,
        delivery=delivery,
        attempted_at=attempted_at,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.response_excerpt,
        error=result.error,
    )
    delivery.attempt_count += 1
    delivery.last_status_code = result.status_code
    if result.ok:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
    elif result.status_code == 410:
        # the receiver says this URL is gone for good
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        _disable(endpoint, actor=None, reason="The endpoint answered 410 Gone.")
    else:
        delay = next_retry_delay(delivery.attempt_count)
        if delay is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = now + delay
        if endpoint.failing_since is None:
            endpoint.failing_since = attempted_at
            endpoint.save(update_fields=["failing_since"])
        elif now - endpoint.failing_since >= DISABLE_AFTER_FAILING_FOR:
            _disable(endpoint, actor=None, reason="Every attempt failed for 5 days.")
    delivery.save(update_fields=["status", "attempt_count", "last_status_code", "next_attempt_at"])
    return attempt


@transaction.atomic(durable=True)
def delivery_redeliver(*, org: Organization, actor: User | None, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again, whatever became of it, with a fresh retry schedule; sent right after commit."""
    try:
        delivery = WebhookDelivery.objects.for_org(org).select_for_update().select_related("endpoint").get(pk=delivery_id)
    except WebhookDelivery.DoesNotExist:
        raise NotFound(_("The requested webhook delivery could not be found."), delivery_id=delivery_id) from None
    if not delivery.endpoint.enabled:
        raise EndpointDisabled(_("Enable the webhook endpoint before sending it deliveries again."), field="endpoint")
    delivery.status, delivery.attempt_count, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, timezone.now()
    delivery.save(update_fields=["status", "attempt_count", "next_attempt_at"])
    audit_log(org=org, actor=actor, action="integrations.webhook_delivery.redelivered", obj=delivery)
    transaction.on_commit(partial(async_task, "integrations.tasks.webhook_deliveries_attempt_task", [delivery.pk]), robust=True)
    return delivery


# --- API helpers ---------------------------------------------------------------------------------------

#: what a test event carries as ``data``: a marker a receiver can recognise, not a real resource
TEST_EVENT_DATA = {"test": True, "message": "A test event sent from Convene to check this endpoint."}


def _queue_attempts(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(
            partial(async_task, "integrations.tasks.webhook_deliveries_attempt_task", list(delivery_ids)), robust=True
        )


@transaction.atomic(durable=True)
def webhook_endpoint_delete(*, org: Organization, actor: User | None, endpoint_id: int) -> None:
    """Remove an endpoint with its deliveries and their attempts; nothing more is sent to it."""
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    audit_log(
        org=org,
        actor=actor,
        action="integrations.webhook_endpoint.deleted",
        obj=endpoint,
        changes={"url": endpoint.url, "event_types": endpoint.event_types},
    )
    endpoint.delete()


@transaction.atomic(durable=True)
def webhook_endpoint_send_test(
    *, org: Organization, actor: User | None, endpoint_id: int, event_type: str | None = None
) -> WebhookDelivery:
    """Send a test event to this endpoint only, signed and recorded like any delivery; sent right after commit.

    The outbox row is written already dispatched, so the fan-out (and its sweep) never offers it to other endpoints.
    """
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled(_("Enable the webhook endpoint before sending it a test event."), field="endpoint")
    chosen = event_type or (endpoint.event_types[0] if endpoint.event_types else EVENT_TYPES[0])
    _check_event_type(chosen)
    now = timezone.now()
    event = OutboxEvent.objects.create(
        organization=org, event_type=chosen, payload=dict(TEST_EVENT_DATA), created_at=now, dispatched_at=now
    )
    delivery = WebhookDelivery.objects.create(organization=org, endpoint=endpoint, outbox_event=event, next_attempt_at=now)
    audit_log(
        org=org,
        actor=actor,
        action="integrations.webhook_endpoint.test_sent",
        obj=endpoint,
        changes={"event_type": chosen, "event_id": event.public_id},
    )
    _queue_attempts([delivery.pk])
    return delivery


def _check_event_type(event_type: str) -> None:
    if event_type not in EVENT_TYPES:
        raise InvalidEventTypes(
            _("Unknown event type: %(types)s.") % {"types": event_type}, field="event_type", unknown=[event_type]
        )


@transaction.atomic(durable=True)
def webhook_endpoint_redeliver_failed(*, org: Organization, actor: User | None, endpoint_id: int, since: datetime) -> int:
    """Send again every failed delivery of this endpoint created since ``since``; returns how many were queued."""
    endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled(_("Enable the webhook endpoint before sending it deliveries again."), field="endpoint")
    failed = WebhookDelivery.objects.for_org(org).filter(endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since)
    ids = list(failed.select_for_update().order_by("id").values_list("id", flat=True))
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING, attempt_count=0, next_attempt_at=timezone.now()
        )
        audit_log(
            org=org,
            actor=actor,
            action="integrations.webhook_endpoint.failed_redelivered",
            obj=endpoint,
            changes={"since": since.isoformat(), "count": len(ids)},
        )
    _queue_attempts(ids)
    return len(ids)
