"""E-mails about an organization's webhooks: plain text and HTML, sent through Django's mail."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Membership, Role
from integrations.models import WebhookEndpoint

#: who hears about an endpoint that was switched off on its own
NOTIFIED_ROLES = (Role.OWNER, Role.ADMIN)


def endpoint_disabled_email_send(*, endpoint_id: int) -> int:
    """Tell the owners and admins that an endpoint was disabled automatically; returns how many were told.

    Nothing is sent when the endpoint is gone or was enabled again before the worker got here.
    """
    endpoint = WebhookEndpoint.objects.select_related("organization").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.enabled:
        return 0
    org = endpoint.organization
    recipients = sorted(
        set(
            Membership.objects.for_org(org)
            .filter(role__in=NOTIFIED_ROLES, user__is_active=True)
            .values_list("user__email", flat=True)
        )
    )
    if not recipients:
        return 0
    site = getattr(settings, "SITE_URL", "").rstrip("/")
    context = {
        "organization_name": org.name,
        "url": endpoint.url,
        "description": endpoint.description,
        "reason": endpoint.disabled_reason,
        "endpoint_link": site + reverse("integrations:endpoint-detail", args=[org.slug, endpoint.pk]),
        "deliveries_link": site + reverse("integrations:endpoint-deliveries", args=[org.slug, endpoint.pk]),
    }
    message = EmailMultiAlternatives(
        subject=f"[{org.name}] Webhook endpoint disabled: {endpoint.url}"[:200],
        body=render_to_string("integrations/email/endpoint_disabled.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string("integrations/email/endpoint_disabled.html", context), "text/html")
    message.send()
    return len(recipients)
