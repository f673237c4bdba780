from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization, OrgQuerySet

EVENT_TYPES = (
    "event.created",
    "event.updated",
    "event.published",
    "event.cancelled",
    "registration.created",
    "registration.confirmed",
    "registration.cancelled",
    "payment.completed",
    "payment.failed",
    "payment.refunded",
    "checkin.completed",
    "session.created",
    "session.updated",
    "session.cancelled",
)


def outbox_event_id() -> str:
    return f"evt_{secrets.token_urlsafe(18)}"


class OutboxEvent(models.Model):
    """One thing that happened, written in the same transaction as the change itself.

    ``dispatched_at`` stays empty until the fan-out to webhooks and connectors has run.
    """

    #: the event's id for integrators (the webhook body's "id" and the webhook-id header); the integer
    #: primary key keeps the commit order, which is the order of delivery
    public_id = models.CharField(max_length=40, unique=True, default=outbox_event_id, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=50, choices=[(t, t) for t in EVENT_TYPES])
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes: ClassVar = [
            models.Index(fields=["id"], condition=models.Q(dispatched_at__isnull=True), name="outbox_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id}"


def webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """An integrator's URL that receives the organization's events, signed with ``secret``."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    #: the event types sent to this endpoint; empty means all of them
    event_types = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=100, default=webhook_secret)
    #: the secret before the last rotation, still used to sign (beside the new one) until it expires
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    #: when the current run of failed attempts began; empty while the endpoint answers
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets every message is signed with now: the current one, and the previous one during a rotation."""
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            keys.append(self.previous_secret)
        return keys


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One outbox event for one endpoint: retried on its schedule until it succeeds or fails for good."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    outbox_event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="webhook_deliveries")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    #: when a worker may next pick it up (also pushed forward by a claim, as a lease)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["endpoint", "outbox_event"], name="webhook_delivery_unique_event"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.outbox_event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery and what came back."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=2048, blank=True)
    error = models.TextField(blank=True)
    #: the headers we sent (signatures included), so the delivery log shows the request exactly
    request_headers = models.JSONField(default=dict, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at:%Y-%m-%d %H:%M:%S} → {self.status_code or self.error[:40]}"
