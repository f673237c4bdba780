"""Reads for webhook endpoints and deliveries, always scoped to one organization."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import Organization
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.errors import NotFound


def webhook_endpoint_list(*, org: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_org(org).order_by("created_at", "id")


def webhook_endpoint_get(*, org: Organization, endpoint_id: int) -> WebhookEndpoint:
    """Another organization's endpoint is answered exactly like a missing one."""
    endpoint = WebhookEndpoint.objects.for_org(org).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("The requested webhook endpoint could not be found."), endpoint_id=endpoint_id)
    return endpoint


def webhook_delivery_list(
    *, org: Organization, endpoint_id: int | None = None, status: str | None = None, event_type: str | None = None
) -> QuerySet[WebhookDelivery]:
    """Newest first, with the endpoint and outbox event loaded (one query for any number of rows)."""
    deliveries = WebhookDelivery.objects.for_org(org).select_related("endpoint", "outbox_event").order_by("-id")
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(outbox_event__event_type=event_type)
    return deliveries


def webhook_delivery_get(*, org: Organization, delivery_id: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.for_org(org).select_related("endpoint", "outbox_event").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(_("The requested webhook delivery could not be found."), delivery_id=delivery_id)
    return delivery


def webhook_attempt_list(*, org: Organization, delivery_id: int) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.for_org(org).filter(delivery_id=delivery_id).order_by("attempted_at", "id")
