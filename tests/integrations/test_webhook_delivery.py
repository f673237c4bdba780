"""Delivery to a real HTTP receiver on 127.0.0.1: retries, stable ids, 410, redirects, private targets, tenancy."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule
from standardwebhooks.webhooks import Webhook

from accounts.models import AuditEntry
from integrations import errors, services, tasks
from integrations.models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery
from integrations.services import outbox_publish, outbox_publish_many
from portal.errors import NotFound

pytestmark = pytest.mark.django_db


def publish(org, event_type="registration.confirmed", data=None):
    with transaction.atomic():
        return outbox_publish(org=org, event_type=event_type, data=data or {"id": "reg_1"})


def time_passes() -> None:
    """Every pending delivery's next attempt comes due (as if its wait were over)."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())


def test_receiver_down_then_back_gets_every_event_with_stable_id(org, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    receiver.status = 503

    with django_capture_on_commit_callbacks(execute=True):
        events = [publish(org, data={"n": n}) for n in range(3)]
    receiver.stop()
    time_passes()
    tasks.webhooks_deliver_due_task()
    receiver.start()
    receiver.status = 200
    time_passes()
    tasks.webhooks_deliver_due_task()

    ids = [e.public_id for e in events]
    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == ids + ids
    for request in receiver.posts():
        assert Webhook(endpoint.secret).verify(request["body"], request["headers"])["id"] == request["headers"]["webhook-id"]
    assert [json.loads(r["body"])["data"] for r in receiver.posts()[3:]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert (
        list(WebhookDelivery.objects.order_by("id").values_list("status", "attempt_count", "last_status_code"))
        == [(DeliveryStatus.SUCCEEDED, 3, 200)] * 3
    )
    assert list(WebhookAttempt.objects.filter(delivery__outbox_event=events[0]).values_list("status_code", flat=True)) == [
        503,
        None,
        200,
    ]


def test_publish_many_delivers_each_event_after_commit(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events = outbox_publish_many(org=org, events=[("event.updated", {"a": 1}), ("session.created", {"b": 2})])

    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [e.public_id for e in events]
    assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() == 0


def test_rolled_back_change_sends_nothing(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        outbox_publish(org=org, event_type="event.created", data={})
        raise RuntimeError("the change failed")

    assert receiver.requests == []
    assert WebhookDelivery.objects.count() == 0


def test_endpoint_only_gets_subscribed_event_types(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url, event_types=["payment.completed"])

    with django_capture_on_commit_callbacks(execute=True):
        publish(org, event_type="registration.confirmed")
        paid = publish(org, event_type="payment.completed")

    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [paid.public_id]


def test_endpoint_of_other_org_never_receives_this_orgs_events(org, other_org, make_receiver, django_capture_on_commit_callbacks):
    ours, theirs = make_receiver(), make_receiver()
    services.webhook_endpoint_create(org=org, actor=None, url=ours.url)
    services.webhook_endpoint_create(org=other_org, actor=None, url=theirs.url)

    with django_capture_on_commit_callbacks(execute=True):
        event = publish(org)

    assert [r["headers"]["webhook-id"] for r in ours.posts()] == [event.public_id]
    assert theirs.requests == []
    assert WebhookDelivery.objects.for_org(other_org).count() == 0


def test_fan_out_twice_makes_one_delivery_per_endpoint(org, receiver):
    first = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    second = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url + "?second")
    event = publish(org)

    created_first = services.outbox_fan_out(outbox_event_id=event.pk)
    created_again = services.outbox_fan_out(outbox_event_id=event.pk)

    assert (len(created_first), created_again) == (2, [])
    assert sorted(WebhookDelivery.objects.filter(outbox_event=event).values_list("endpoint_id", flat=True)) == [
        first.pk,
        second.pk,
    ]
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_fan_out_skips_disabled_endpoint(org, receiver):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=endpoint.pk)
    event = publish(org)

    assert services.outbox_fan_out(outbox_event_id=event.pk) == []


def test_410_gone_disables_endpoint(org, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    receiver.status = 410

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)
        publish(org)

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "The endpoint answered 410 Gone.")
    assert len(receiver.posts()) == 1
    assert list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True)) == [
        DeliveryStatus.FAILED,
        DeliveryStatus.PENDING,
    ]
    assert AuditEntry.objects.for_org(org).get(action="integrations.webhook_endpoint.disabled").actor_label == "system"


def test_redirect_is_not_followed(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    receiver.status = 302

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)

    assert [r["path"] for r in receiver.requests] == ["/hook"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.PENDING, 302)


def test_private_target_refused_at_send_time_when_not_allowed(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)

    with override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False), django_capture_on_commit_callbacks(execute=True):
        publish(org)

    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, "Webhook URLs must use https://.")


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
def test_public_name_resolving_to_private_address_is_refused(org, monkeypatch, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))])

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)

    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, "hooks.example.com resolves to a non-public address (127.0.0.1).")


def test_retry_schedule_then_failed(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        publish(org)
    delivery = WebhookDelivery.objects.get()
    waits = []

    for _ in range(7):
        delivery.refresh_from_db()
        last = delivery.attempts.order_by("-id").first()
        waits.append(round((delivery.next_attempt_at - last.attempted_at).total_seconds()))
        services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert waits == [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 8, None)
    assert len(receiver.posts()) == 8


def test_five_days_of_failures_disables_endpoint(org, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    receiver.status = 500
    endpoint.failing_since = timezone.now() - timedelta(days=5, minutes=1)
    endpoint.save()

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "Every attempt failed for 5 days.")


def test_success_clears_failing_since(org, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    endpoint.failing_since = timezone.now() - timedelta(days=4)
    endpoint.save()

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.failing_since) == (True, None)


def test_claim_leases_delivery_until_lease_runs_out(org, receiver):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    [delivery_id] = services.outbox_fan_out(outbox_event_id=publish(org).pk)
    now = timezone.now()

    first = services.deliveries_claim(limit=10, now=now)
    again = services.deliveries_claim(limit=10, now=now + timedelta(seconds=30))
    after_lease = services.deliveries_claim(limit=10, now=now + services.CLAIM_LEASE + timedelta(seconds=1))

    assert (first, again, after_lease) == ([delivery_id], [], [delivery_id])


def test_redeliver_sends_again_with_same_id_and_audits(org, receiver, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        event = publish(org)
    delivery = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_redeliver(org=org, actor=None, delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [event.public_id, event.public_id]
    assert (delivery.status, delivery.attempts.count()) == (DeliveryStatus.SUCCEEDED, 2)
    assert AuditEntry.objects.for_org(org).filter(action="integrations.webhook_delivery.redelivered").count() == 1


def test_redeliver_of_other_orgs_delivery_answers_not_found(org, other_org, receiver):
    services.webhook_endpoint_create(org=other_org, actor=None, url=receiver.url)
    [theirs] = services.outbox_fan_out(outbox_event_id=publish(other_org).pk)

    with pytest.raises(NotFound):
        services.delivery_redeliver(org=org, actor=None, delivery_id=theirs)


def test_sweep_fans_out_only_rows_left_undispatched_for_a_minute(org, receiver):
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    left_behind, recent = publish(org), publish(org)  # their on-commit tasks never ran
    OutboxEvent.objects.filter(pk=left_behind.pk).update(created_at=timezone.now() - timedelta(minutes=2))

    swept = tasks.outbox_sweep_task()

    assert swept == 1
    assert list(WebhookDelivery.objects.values_list("outbox_event_id", flat=True)) == [left_behind.pk]
    assert list(OutboxEvent.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True)) == [recent.pk]


def test_webhooks_schedule_command_is_idempotent():
    call_command("webhooks_schedule")
    call_command("webhooks_schedule")

    webhook_schedules = Schedule.objects.filter(func__startswith="integrations.")
    assert sorted(webhook_schedules.values_list("func", "schedule_type", "minutes")) == [
        ("integrations.tasks.outbox_sweep_task", Schedule.MINUTES, 1),
        ("integrations.tasks.webhooks_deliver_due_task", Schedule.MINUTES, 1),
    ]


def test_redeliver_to_disabled_endpoint_asks_to_enable_it_first(org, receiver):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    [delivery_id] = services.outbox_fan_out(outbox_event_id=publish(org).pk)
    services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=endpoint.pk)

    with pytest.raises(errors.EndpointDisabled) as caught:
        services.delivery_redeliver(org=org, actor=None, delivery_id=delivery_id)

    assert caught.value.message == "Enable the webhook endpoint before sending it deliveries again."
    assert receiver.requests == []


def test_disabled_endpoint_deliveries_wait_and_resume_when_enabled(org, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url)
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        event = publish(org)
    services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=endpoint.pk)
    receiver.status = 200
    time_passes()

    sent_while_disabled = tasks.webhooks_deliver_due_task()
    services.webhook_endpoint_enable(org=org, actor=None, endpoint_id=endpoint.pk)
    sent_after_enable = tasks.webhooks_deliver_due_task()

    assert (sent_while_disabled, sent_after_enable) == (0, 1)
    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [event.public_id, event.public_id]
