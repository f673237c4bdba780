"""Batched delivery: one fan-out for many commits, concurrent endpoints, kept-alive connections, claims and leases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from integrations import services, tasks
from integrations.models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery
from integrations.services import outbox_publish
from integrations.webhooks import message_body
from tests.integrations.receivers import KeepAliveReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def keepalive():
    made: list[KeepAliveReceiver] = []

    def make() -> KeepAliveReceiver:
        made.append(KeepAliveReceiver())
        return made[-1]

    yield make
    for r in made:
        r.stop()


def publish(org, n: int = 0) -> OutboxEvent:
    with transaction.atomic():
        return outbox_publish(org=org, event_type="event.updated", data={"n": n})


def test_attempt_records_the_headers_that_were_sent(org, keepalive, django_capture_on_commit_callbacks):
    receiver = keepalive()
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())

    with django_capture_on_commit_callbacks(execute=True):
        event = publish(org)

    [message] = receiver.messages
    attempt = WebhookAttempt.objects.get()
    sent = {name.lower(): value for name, value in attempt.request_headers.items()}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent", "host"):
        assert sent[name] == message.headers[name]
    assert sent["webhook-id"] == event.public_id
    assert sent["host"] == f"127.0.0.1:{receiver.port}"
    # the recorded signature verifies against the recorded id and timestamp
    assert Webhook(endpoint.secret).verify(message_body(event), sent)["id"] == event.public_id


def test_refused_target_records_no_request_headers(org, keepalive, django_capture_on_commit_callbacks):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())

    # private targets are refused at send time once the instance no longer allows them
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False), django_capture_on_commit_callbacks(execute=True):
        publish(org)

    attempt = WebhookAttempt.objects.get()
    assert (attempt.error, attempt.request_headers) == ("Webhook URLs must use https://.", {})
    assert receiver.messages == []


def test_one_fan_out_takes_the_waiting_rows_of_many_commits(org, keepalive, django_capture_on_commit_callbacks):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())
    events = [publish(org, n) for n in range(3)]  # their fan-out tasks have not run yet

    with django_capture_on_commit_callbacks() as queued:
        made = tasks.outbox_fan_out_task([events[0].pk])
    for callback in queued:
        callback()
    made_later = [tasks.outbox_fan_out_task([e.pk]) for e in events[1:]]

    assert (made, made_later) == (3, [0, 0])
    assert len(queued) == 1  # one attempt task for the three deliveries
    assert receiver.ids() == [e.public_id for e in events]


def test_fan_out_queues_one_attempt_task_per_batch(org, keepalive, django_capture_on_commit_callbacks):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())
    count = services.DELIVERY_BATCH * 2 + 1
    with transaction.atomic():
        events = [outbox_publish(org=org, event_type="event.updated", data={"n": n}) for n in range(count)]

    with django_capture_on_commit_callbacks() as queued:
        tasks.outbox_fan_out_task([events[0].pk])
    for callback in queued:
        callback()

    assert len(queued) == 3
    assert receiver.ids() == [e.public_id for e in events]
    assert WebhookAttempt.objects.count() == count


def test_endpoints_of_one_batch_are_sent_to_at_the_same_time(org, keepalive, django_capture_on_commit_callbacks):
    slow, other = keepalive(), keepalive()
    other_got_one = threading.Event()
    seen_while_waiting: list[bool] = []
    # the first endpoint answers only once the second has its message (or gives up after 10 s)
    slow.before_answer = lambda _message: seen_while_waiting.append(other_got_one.wait(10))
    other.before_answer = lambda _message: other_got_one.set()
    services.webhook_endpoint_create(org=org, actor=None, url=slow.url())
    services.webhook_endpoint_create(org=org, actor=None, url=other.url())

    with django_capture_on_commit_callbacks(execute=True):
        event = publish(org)

    assert seen_while_waiting == [True]
    assert (slow.ids(), other.ids()) == ([event.public_id], [event.public_id])
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == [DeliveryStatus.SUCCEEDED] * 2


def test_one_endpoints_batch_goes_in_commit_order_over_one_connection(org, keepalive, django_capture_on_commit_callbacks):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events = [outbox_publish(org=org, event_type="event.updated", data={"n": n}) for n in range(4)]

    assert receiver.ids() == [e.public_id for e in events]
    assert len({m.port for m in receiver.messages}) == 1


def test_410_stops_the_rest_of_the_batch_for_that_endpoint(org, keepalive, django_capture_on_commit_callbacks):
    gone, fine = keepalive(), keepalive()
    gone.status = 410
    gone_endpoint = services.webhook_endpoint_create(org=org, actor=None, url=gone.url())
    services.webhook_endpoint_create(org=org, actor=None, url=fine.url())

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events = [outbox_publish(org=org, event_type="event.updated", data={"n": n}) for n in range(3)]

    assert gone.ids() == [events[0].public_id]
    assert fine.ids() == [e.public_id for e in events]
    gone_endpoint.refresh_from_db()
    assert gone_endpoint.enabled is False
    assert list(gone_endpoint.deliveries.order_by("id").values_list("status", "attempt_count")) == [
        (DeliveryStatus.FAILED, 1),
        (DeliveryStatus.PENDING, 0),
        (DeliveryStatus.PENDING, 0),
    ]


def test_deliveries_a_batch_did_not_reach_are_due_again_uncounted(org, keepalive, monkeypatch):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())
    ids = [services.outbox_fan_out(outbox_event_id=publish(org, n).pk)[0] for n in range(2)]
    monkeypatch.setattr(services, "BATCH_SEND_BUDGET", timedelta(seconds=-1))  # the budget is spent before it starts

    claimed = services.deliveries_send_due(delivery_ids=ids)

    assert claimed == 2
    assert receiver.messages == []
    assert set(WebhookDelivery.objects.values_list("status", "attempt_count")) == {(DeliveryStatus.PENDING, 0)}
    assert not WebhookDelivery.objects.filter(next_attempt_at__gt=timezone.now()).exists()


@override_settings(WEBHOOKS_CLAIM_LEASE_SECONDS=7)
def test_claim_lease_comes_from_settings(org, keepalive):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())
    [delivery_id] = services.outbox_fan_out(outbox_event_id=publish(org).pk)
    now = timezone.now()

    claimed = services.deliveries_claim(limit=10, now=now)

    assert claimed == [delivery_id]
    assert WebhookDelivery.objects.get().next_attempt_at == now + timedelta(seconds=7)
    assert services.deliveries_claim(limit=10, now=now + timedelta(seconds=6)) == []
    assert services.deliveries_claim(limit=10, now=now + timedelta(seconds=7)) == [delivery_id]


def test_attempt_after_its_claim_lapsed_is_logged_but_leaves_the_delivery_to_the_new_claim(org, keepalive):
    receiver = keepalive()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())
    [delivery_id] = services.outbox_fan_out(outbox_event_id=publish(org).pk)
    now = timezone.now()
    services.deliveries_claim(limit=1, now=now)
    first_lease = WebhookDelivery.objects.get().next_attempt_at
    # the first worker stalls past its lease; another one claims the delivery
    later = now + services.claim_lease() + timedelta(seconds=1)
    assert services.deliveries_claim(limit=1, now=later) == [delivery_id]
    second_lease = WebhookDelivery.objects.get().next_attempt_at

    services._deliveries_send([delivery_id], lease_until=first_lease)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at, delivery.attempt_count) == (DeliveryStatus.PENDING, second_lease, 1)
    assert list(delivery.attempts.values_list("status_code", flat=True)) == [200]
