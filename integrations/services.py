from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.conf import Conf
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
#: how long a claimed delivery is kept from other workers by default (``claim_lease()`` reads the setting)
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
    outbox_dispatch_on_commit([event.pk], org_id=org.pk)
    return event


def outbox_publish_many(*, org: Organization, events: list[tuple[str, dict]]) -> list[OutboxEvent]:
    """Several events caused by one change, in the order given, written in one statement."""
    for event_type, _data in events:
        _check(event_type)
    now = timezone.now()
    rows = [OutboxEvent(organization=org, event_type=t, payload=d, created_at=now) for t, d in events]
    created = OutboxEvent.objects.bulk_create(rows)
    outbox_dispatch_on_commit([e.pk for e in created], org_id=org.pk)
    return created


def _queue_is_this_database() -> bool:
    """django-q2's ORM broker on the default database (the embedded set-up and the benchmark's)."""
    q = settings.Q_CLUSTER
    return q.get("orm") == "default" and not q.get("sync")


#: while this flag is up, a fan-out for the organization is queued and not yet started: a commit adds no
#: second one (the queued run takes its rows). Short-lived, so a run the queue lost delays little.
FAN_OUT_QUEUED_KEY = "webhooks:fan-out-queued:{org_id}"
FAN_OUT_QUEUED_SECONDS = 5
#: how long a queued fan-out lingers, flag still up, before it reads: the commits of that moment join its
#: batch instead of queueing runs of their own (fewer, larger transactions and requests under load)
FAN_OUT_LINGER_SECONDS = 0.05


def _fan_out_coalesced() -> bool:
    """Whether commits share queued fan-out runs: the queue runs elsewhere and the cache (Redis) is shared."""
    return bool(settings.REDIS_URL) and not Conf.SYNC and not _queue_is_this_database()


def outbox_dispatch_on_commit(outbox_event_ids: list[int], *, org_id: int | None = None) -> None:
    """Queue a fan-out task for these outbox rows (ids only), to run once the change is committed.

    With the ORM broker the queue row is written inside the change's own transaction: it commits or
    rolls back with it, and costs no second commit on the registration hot path. With Redis the task
    is pushed after commit, unless a fan-out for the organization is already queued and not started
    (it will take these rows too). Either way the sweep catches any row whose task went missing.
    """
    # save=False: the queue keeps no result when it succeeds (the outbox is the record)
    enqueue = partial(async_task, "integrations.tasks.outbox_fan_out_task", list(outbox_event_ids), org_id=org_id, save=False)
    if _queue_is_this_database():
        enqueue()
        return

    def after_commit() -> None:
        coalesce = org_id is not None and _fan_out_coalesced()
        if coalesce and not cache.add(FAN_OUT_QUEUED_KEY.format(org_id=org_id), 1, timeout=FAN_OUT_QUEUED_SECONDS):
            return  # a queued run takes these rows
        enqueue()

    # robust: a queue hiccup must not turn a committed change into an error
    transaction.on_commit(after_commit, robust=True)


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


def _disable(endpoint: WebhookEndpoint, *, actor: User | None, reason: str, automatic: bool = False) -> None:
    """Switch the endpoint off; ``automatic`` (410, days of failures) also e-mails its owners and admins after commit."""
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
    if automatic:
        transaction.on_commit(partial(async_task, "integrations.tasks.endpoint_disabled_email_task", endpoint.pk), robust=True)


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

#: outbox rows one fan-out takes at most: its own change's, then its organization's other rows waiting
FAN_OUT_BATCH = 500
#: deliveries one task claims and sends (its endpoints at the same time, each endpoint's in order)
DELIVERY_BATCH = 50
#: endpoints one batch sends to at the same time
SEND_CONCURRENCY = 16
#: after this long a batch starts no new request: it ends well within its claim's lease (and the queue's
#: task timeout), and the deliveries it did not reach are left due for the next run, no attempt counted
BATCH_SEND_BUDGET = timedelta(seconds=webhooks.SEND_TIMEOUT_SECONDS)


def claim_lease() -> timedelta:
    """How long a claimed delivery is kept from other workers (``WEBHOOKS_CLAIM_LEASE_SECONDS``, default 2 min).

    It must outlast a whole batch: ``BATCH_SEND_BUDGET`` plus one request's 15 s timeout, plus the recording.
    """
    return timedelta(seconds=settings.WEBHOOKS_CLAIM_LEASE_SECONDS)


def _outbox_fan_out(events: list[OutboxEvent], *, now: datetime, keep: int = 0) -> list[int]:
    """Deliveries for these outbox rows (locked by the caller, not yet dispatched), in a few statements.

    Each row gets one pending delivery per enabled endpoint of its own organization subscribed to its
    type; the rows are marked dispatched and the new deliveries' first attempts queued after commit,
    except the first ``keep`` (the caller sends them itself once committed). Returns the new
    deliveries' ids in commit order.
    """
    if not events:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    subscribed = WebhookEndpoint.objects.filter(organization_id__in={e.organization_id for e in events}, enabled=True)
    for endpoint in subscribed.order_by("id"):
        endpoints[endpoint.organization_id].append(endpoint)
    # none expected (a row is fanned out once, under its lock), but never a second delivery per endpoint
    existing = set(
        WebhookDelivery.objects.filter(outbox_event__in=[e.pk for e in events]).values_list("outbox_event_id", "endpoint_id")
    )
    created = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(organization_id=event.organization_id, endpoint=endpoint, outbox_event=event, next_attempt_at=now)
            for event in events
            for endpoint in endpoints[event.organization_id]
            if endpoint.subscribes_to(event.event_type) and (event.pk, endpoint.pk) not in existing
        ]
    )
    OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
    new_ids = [d.pk for d in created]
    # if queueing fails, the every-minute delivery task sends them anyway
    _queue_attempts(new_ids[keep:])
    return new_ids


def _pending_outbox() -> QuerySet[OutboxEvent]:
    """Undispatched outbox rows, oldest first, locked; rows another worker is fanning out are skipped."""
    pending = OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id")
    if connection.vendor == "postgresql":
        return pending.select_for_update(skip_locked=True)
    return pending.select_for_update()


def outbox_fan_out(*, outbox_event_id: int) -> list[int]:
    """One pending delivery per enabled endpoint subscribed to the event; returns the ids of new deliveries.

    Safe to run twice: the row is locked and marked dispatched, so a second run creates nothing. The
    first attempt of each new delivery is queued after commit.
    """
    with transaction.atomic():
        events = list(OutboxEvent.objects.select_for_update().filter(pk=outbox_event_id, dispatched_at__isnull=True))
        return _outbox_fan_out(events, now=timezone.now())


def outbox_fan_out_pending(*, outbox_event_ids: list[int], org_id: int | None = None, limit: int = FAN_OUT_BATCH) -> list[int]:
    """Fan out these outbox rows and the other waiting rows of their organization, oldest first, in one transaction.

    Queued after commits: under load one run takes the rows of many commits. Every run that finds rows
    takes at least one, so each commit's rows are fanned out by the time the run queued for it has
    finished (or by the sweep, if the queue lost the run); a run that stops at ``limit`` queues another.
    Once committed, the run sends the first ``DELIVERY_BATCH`` of the new deliveries itself (claimed like
    any other) and queues one attempt task per further batch; called inside a transaction, it sends
    nothing itself and queues them all. Returns the new deliveries' ids.
    """
    send_first = 0 if transaction.get_connection().in_atomic_block else DELIVERY_BATCH
    if org_id is not None:
        if _fan_out_coalesced():
            time.sleep(FAN_OUT_LINGER_SECONDS)
        # from now on a commit queues a new run: this one may start reading before that commit
        cache.delete(FAN_OUT_QUEUED_KEY.format(org_id=org_id))
        orgs = [org_id]
    else:
        orgs = OutboxEvent.objects.filter(pk__in=outbox_event_ids).values("organization_id")
    with transaction.atomic():
        events = list(_pending_outbox().filter(organization_id__in=orgs)[:limit])
        if len(events) == limit:
            transaction.on_commit(
                partial(async_task, "integrations.tasks.outbox_fan_out_task", [], org_id=events[0].organization_id, save=False),
                robust=True,
            )
        new_ids = _outbox_fan_out(events, now=timezone.now(), keep=send_first)
    if send_first and new_ids:
        deliveries_send_due(limit=send_first, delivery_ids=new_ids[:send_first])
    return new_ids


def outbox_sweep(*, older_than: timedelta = SWEEP_AFTER, limit: int = FAN_OUT_BATCH) -> list[int]:
    """Fan out committed outbox rows nobody dispatched (a worker crashed or the queue lost the task).

    Returns the ids of the outbox rows it fanned out.
    """
    with transaction.atomic():
        events = list(_pending_outbox().filter(created_at__lte=timezone.now() - older_than)[:limit])
        _outbox_fan_out(events, now=timezone.now())
    return [e.pk for e in events]


def _deliveries_claim(*, limit: int, now: datetime, delivery_ids: list[int] | None = None) -> tuple[list[int], datetime]:
    lease_until = now + claim_lease()
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
            WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=lease_until)
    return ids, lease_until


def deliveries_claim(*, limit: int, now: datetime, delivery_ids: list[int] | None = None) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker and return their ids, oldest event first.

    Rows locked by another claimer are skipped (PostgreSQL), and each claimed row's ``next_attempt_at``
    moves a lease (``claim_lease()``) ahead: no other worker takes it meanwhile, and if this worker dies
    the row becomes due again when the lease runs out. The lease's end also identifies the claim: an
    attempt recorded after its claim lapsed is logged but leaves the delivery to its new owner.
    """
    return _deliveries_claim(limit=limit, now=now, delivery_ids=delivery_ids)[0]


def next_retry_delay(attempt_count: int) -> timedelta | None:
    """The wait after the ``attempt_count``-th failed attempt, or None when the delivery has failed for good."""
    if attempt_count <= len(RETRY_DELAYS):
        return RETRY_DELAYS[attempt_count - 1]
    return None


def delivery_attempt(*, delivery_id: int) -> WebhookAttempt | None:
    """Send one delivery now (claimed or not) and record the outcome, outside any transaction of ours.

    Returns the attempt, or None when there was nothing to send (already done, or endpoint disabled).
    """
    attempts = _deliveries_send([delivery_id], lease_until=None)
    return attempts[0] if attempts else None


def deliveries_send_due(*, limit: int = DELIVERY_BATCH, delivery_ids: list[int] | None = None) -> int:
    """Claim due deliveries (optionally only some) and attempt each once; returns how many were claimed."""
    claimed, lease_until = _deliveries_claim(limit=limit, now=timezone.now(), delivery_ids=delivery_ids)
    if claimed:
        _deliveries_send(claimed, lease_until=lease_until)
    return len(claimed)


@dataclass(frozen=True)
class _Sent:
    delivery_id: int
    endpoint_id: int
    attempted_at: datetime
    result: webhooks.SendResult


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _send_pool() -> ThreadPoolExecutor:
    """This process's sending threads (a forked worker makes its own)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool, _pool_pid = ThreadPoolExecutor(max_workers=SEND_CONCURRENCY, thread_name_prefix="webhooks"), os.getpid()
        return _pool


def _deliveries_send(delivery_ids: list[int], *, lease_until: datetime | None) -> list[WebhookAttempt]:
    """Send these deliveries (those still pending to an enabled endpoint) and record every attempt at once.

    The database is read and written here, in this thread, never while a request is open: the requests go
    out from a thread pool, one lane per endpoint (each endpoint's deliveries in commit order over one
    kept-alive connection, the endpoints at the same time). A lane stops after a 410 (the endpoint is
    gone) and no lane starts a request after ``BATCH_SEND_BUDGET``.
    """
    deliveries = list(
        WebhookDelivery.objects.select_related("endpoint", "outbox_event")
        .filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING, endpoint__enabled=True)
        .order_by("outbox_event_id", "id")
    )
    if not deliveries:
        return []
    bodies = {d.outbox_event_id: webhooks.message_body(d.outbox_event) for d in deliveries}
    lanes: dict[int, list[WebhookDelivery]] = defaultdict(list)
    for delivery in deliveries:
        lanes[delivery.endpoint_id].append(delivery)
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS
    deadline = time.monotonic() + BATCH_SEND_BUDGET.total_seconds()

    def send_lane(lane: list[WebhookDelivery]) -> list[_Sent]:
        sent: list[_Sent] = []
        for delivery in lane:
            if time.monotonic() > deadline or (sent and sent[-1].result.status_code == 410):
                break
            endpoint, event = delivery.endpoint, delivery.outbox_event
            body = bodies[event.pk]
            attempted_at = timezone.now()
            headers = webhooks.signed_headers(secrets=endpoint.signing_secrets(attempted_at), msg_id=event.public_id, body=body)
            result = webhooks.send(url=endpoint.url, headers=headers, body=body, allow_private=allow_private)
            sent.append(_Sent(delivery.pk, endpoint.pk, attempted_at, result))
        return sent

    by_endpoint = list(lanes.values())
    # a single endpoint is sent to from this thread: no hand-off
    results = [send_lane(by_endpoint[0])] if len(by_endpoint) == 1 else list(_send_pool().map(send_lane, by_endpoint))
    sent = [s for lane in results for s in lane]
    reached = {s.delivery_id for s in sent}
    unsent = [d.pk for d in deliveries if d.pk not in reached]
    return _deliveries_record(sent=sent, unsent=unsent, lease_until=lease_until)


def _holds_claim(delivery: WebhookDelivery, lease_until: datetime | None) -> bool:
    """Whether the claim that ends at ``lease_until`` is still this delivery's (None: sent unclaimed, by hand)."""
    return lease_until is None or (delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at == lease_until)


@transaction.atomic
def _deliveries_record(*, sent: list[_Sent], unsent: list[int], lease_until: datetime | None) -> list[WebhookAttempt]:
    """One attempt row per request sent, and each delivery's next step, in one transaction.

    Locks the endpoints, then the deliveries, each in primary-key order (the endpoint services lock an
    endpoint before its deliveries). Deliveries the batch did not reach become due again, no attempt counted.
    """
    endpoints = {
        e.pk: e
        for e in WebhookEndpoint.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(pk__in=sorted({s.endpoint_id for s in sent}))
        .order_by("pk")
    }
    touched = sorted({s.delivery_id for s in sent} | set(unsent))
    deliveries = {d.pk: d for d in WebhookDelivery.objects.select_for_update().filter(pk__in=touched).order_by("pk")}
    now = timezone.now()
    attempts: list[WebhookAttempt] = []
    changed: dict[int, WebhookDelivery] = {}
    for item in sorted(sent, key=lambda s: s.attempted_at):
        delivery, result = deliveries.get(item.delivery_id), item.result
        if delivery is None:  # deleted with its endpoint meanwhile
            continue
        attempts.append(
            WebhookAttempt(
                organization_id=delivery.organization_id,
                delivery=delivery,
                attempted_at=item.attempted_at,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                response_excerpt=result.response_excerpt,
                error=result.error,
                request_headers=result.request_headers,
            )
        )
        delivery.attempt_count += 1
        changed[delivery.pk] = delivery
        if not _holds_claim(delivery, lease_until):
            # the claim lapsed and another worker owns the delivery now: its outcome decides what comes next
            continue
        _delivery_outcome(delivery, endpoints[delivery.endpoint_id], item, now=now)
    for delivery_id in unsent:
        delivery = deliveries.get(delivery_id)
        if delivery is not None and _holds_claim(delivery, lease_until):
            delivery.next_attempt_at = now
            changed[delivery.pk] = delivery
    WebhookAttempt.objects.bulk_create(attempts)
    # one UPDATE per distinct outcome (typically one: all succeeded at the first attempt)
    outcomes: dict[tuple, list[int]] = defaultdict(list)
    for d in changed.values():
        outcomes[(d.status, d.attempt_count, d.last_status_code, d.next_attempt_at)].append(d.pk)
    for (status, attempt_count, last_status_code, next_attempt_at), ids in outcomes.items():
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=status, attempt_count=attempt_count, last_status_code=last_status_code, next_attempt_at=next_attempt_at
        )
    return attempts


def _delivery_outcome(delivery: WebhookDelivery, endpoint: WebhookEndpoint, item: _Sent, *, now: datetime) -> None:
    """Move a delivery (and its endpoint) on after an attempt: done, retried later, failed, or endpoint disabled."""
    result = item.result
    delivery.last_status_code = result.status_code
    if result.ok:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
    elif result.status_code == 410:
        # the receiver says this URL is gone for good
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        _disable(endpoint, actor=None, reason="The endpoint answered 410 Gone.", automatic=True)
    else:
        delay = next_retry_delay(delivery.attempt_count)
        if delay is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = now + delay
        if endpoint.failing_since is None:
            endpoint.failing_since = item.attempted_at
            endpoint.save(update_fields=["failing_since"])
        elif now - endpoint.failing_since >= DISABLE_AFTER_FAILING_FOR:
            _disable(endpoint, actor=None, reason="Every attempt failed for 5 days.", automatic=True)


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
    _queue_attempts([delivery.pk])
    return delivery


# --- API helpers ---------------------------------------------------------------------------------------

#: what a test event carries as ``data``: a marker a receiver can recognise, not a real resource
TEST_EVENT_DATA = {"test": True, "message": "A test event sent from Convene to check this endpoint."}


def _queue_attempts(delivery_ids: list[int]) -> None:
    """After commit, one attempt task per ``DELIVERY_BATCH`` of these deliveries (ids only).

    The queue keeps no result of theirs when they succeed (the attempts are the record), and a queueing
    failure is not an error: the every-minute delivery task sends them anyway.
    """
    ids = list(delivery_ids)
    for start in range(0, len(ids), DELIVERY_BATCH):
        batch = ids[start : start + DELIVERY_BATCH]
        transaction.on_commit(
            partial(async_task, "integrations.tasks.webhook_deliveries_attempt_task", batch, save=False), robust=True
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


# --- portal helpers ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def webhook_endpoint_save(
    *,
    org: Organization,
    actor: User | None,
    endpoint_id: int | None = None,
    url: str,
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
) -> WebhookEndpoint:
    """The portal's endpoint form: create (no ``endpoint_id``) or change an endpoint and switch it on or off, at once.

    An empty ``event_types`` means all events. Audited like the single-purpose services above.
    """
    if endpoint_id is None:
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
    else:
        endpoint = _endpoint_for_update(org=org, endpoint_id=endpoint_id)
        new = {
            "url": _clean_url(url),
            "event_types": _clean_event_types(event_types),
            "description": (description or "").strip()[:200],
        }
        if changes := {k: [getattr(endpoint, k), v] for k, v in new.items() if getattr(endpoint, k) != v}:
            for field, (_old, value) in changes.items():
                setattr(endpoint, field, value)
            endpoint.save(update_fields=list(changes))
            audit_log(org=org, actor=actor, action="integrations.webhook_endpoint.updated", obj=endpoint, changes=changes)
    if enabled and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, "", None
        endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since"])
        audit_log(org=org, actor=actor, action="integrations.webhook_endpoint.enabled", obj=endpoint)
    elif not enabled:
        _disable(endpoint, actor=actor, reason="Disabled by a user.")
    return endpoint
