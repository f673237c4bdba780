"""Reads for webhook endpoints and deliveries, always scoped to one organization."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
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


# --- portal pages ------------------------------------------------------------------------------------

#: the window of the success rate shown beside each endpoint
ENDPOINT_STATS_WINDOW = timedelta(days=7)


def webhook_endpoint_list_with_stats(*, org: Organization, now: datetime | None = None) -> QuerySet[WebhookEndpoint]:
    """Endpoints with their last ``ENDPOINT_STATS_WINDOW`` of deliveries counted and their last attempt (one query).

    Each row carries ``recent_succeeded``, ``recent_failed``, ``recent_pending``, ``last_attempt_at`` and
    ``last_attempt_status`` (None for a network error or when nothing was sent yet).
    """
    since = (now or timezone.now()) - ENDPOINT_STATS_WINDOW
    recent = Q(deliveries__created_at__gte=since)
    last_attempt = WebhookAttempt.objects.filter(delivery__endpoint=OuterRef("pk")).order_by("-attempted_at", "-id")
    return webhook_endpoint_list(org=org).annotate(
        recent_succeeded=Count("deliveries", filter=recent & Q(deliveries__status=DeliveryStatus.SUCCEEDED)),
        recent_failed=Count("deliveries", filter=recent & Q(deliveries__status=DeliveryStatus.FAILED)),
        recent_pending=Count("deliveries", filter=recent & Q(deliveries__status=DeliveryStatus.PENDING)),
        last_attempt_at=Subquery(last_attempt.values("attempted_at")[:1]),
        last_attempt_status=Subquery(last_attempt.values("status_code")[:1]),
    )


def webhook_delivery_log(
    *,
    org: Organization,
    endpoint_id: int | None = None,
    status: str = "",
    event_type: str = "",
    event_id: str = "",
) -> QuerySet[WebhookDelivery]:
    """The delivery log's rows: ``webhook_delivery_list`` narrowed to one event id (``evt_…``) when given."""
    deliveries = webhook_delivery_list(org=org, endpoint_id=endpoint_id, status=status or None, event_type=event_type or None)
    if event_id:
        deliveries = deliveries.filter(outbox_event__public_id=event_id)
    return deliveries
