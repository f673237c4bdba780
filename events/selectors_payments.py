"""Reads of payments. Every selector starts from ``for_org(org)``."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Organization
from events.models import Payment, PaymentStatus


def payment_list(
    *,
    org: Organization,
    registration_id: int | None = None,
    event_id: int | None = None,
    status: str = "",
) -> QuerySet[Payment]:
    """Newest first; each payment carries its registration (its event id is part of the resource)."""
    qs = Payment.objects.for_org(org).select_related("registration")
    if registration_id is not None:
        qs = qs.filter(registration_id=registration_id)
    if event_id is not None:
        qs = qs.filter(registration__event_id=event_id)
    if status in PaymentStatus.values:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def payment_get(*, org: Organization, payment_id: int) -> Payment:
    return Payment.objects.for_org(org).select_related("registration").get(pk=payment_id)
