"""The signature and body integrators see: any Standard Webhooks library must verify them."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import AuditEntry, Role
from integrations import services, webhooks
from integrations.services import outbox_publish
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def publish(org, event_type="registration.confirmed", data=None):
    with transaction.atomic():
        return outbox_publish(org=org, event_type=event_type, data=data or {"id": "reg_1", "status": "confirmed"})


def signed(endpoint, event):
    body = webhooks.message_body(event)
    headers = webhooks.signed_headers(secrets=endpoint.signing_secrets(timezone.now()), msg_id=event.public_id, body=body)
    return body, headers


def test_endpoint_secret_is_whsec_with_at_least_24_random_bytes(org):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")

    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) >= 24


def test_message_body_is_the_documented_envelope(org):
    event = publish(org, data={"id": "reg_1", "status": "confirmed"})

    body = json.loads(webhooks.message_body(event))

    assert body == {
        "id": event.public_id,
        "event": "registration.confirmed",
        "timestamp": event.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": "1.0",
        "data": {"id": "reg_1", "status": "confirmed"},
    }


def test_signature_verified_by_standard_webhooks_library(org):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")
    event = publish(org)
    body, headers = signed(endpoint, event)

    verified = Webhook(endpoint.secret).verify(body, headers)

    assert verified == json.loads(body)
    assert headers["webhook-id"] == event.public_id


def test_signature_with_another_secret_is_rejected_by_library(org):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")
    other = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/other")
    body, headers = signed(endpoint, publish(org))

    with pytest.raises(WebhookVerificationError):
        Webhook(other.secret).verify(body, headers)


def test_rotation_sends_both_signatures_each_verified_by_library(org):
    owner = make_member(org, Role.OWNER)
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")
    old_secret = endpoint.secret

    rotated = services.webhook_endpoint_rotate_secret(org=org, actor=owner, endpoint_id=endpoint.pk)
    body, headers = signed(rotated, publish(org))

    assert rotated.secret != old_secret
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(rotated.secret).verify(body, headers) == json.loads(body)
    assert Webhook(old_secret).verify(body, headers) == json.loads(body)
    assert AuditEntry.objects.for_org(org).filter(action="integrations.webhook_endpoint.secret_rotated").count() == 1


def test_rotation_old_secret_stops_signing_after_24_hours(org):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")
    rotated = services.webhook_endpoint_rotate_secret(org=org, actor=None, endpoint_id=endpoint.pk)

    later = timezone.now() + timedelta(hours=24, minutes=1)

    assert rotated.signing_secrets(later) == [rotated.secret]
