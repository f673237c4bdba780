from __future__ import annotations

import secrets
from typing import ClassVar

from django.db import models
from django.utils import timezone

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
