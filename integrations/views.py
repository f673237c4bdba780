"""The webhook pages of the portal: endpoints (create, edit, secret, test, enable, delete) and the delivery log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import org_view
from events.forms import apply_domain_error
from events.views.common import paginate, query_without_page
from integrations import selectors, services, webhooks
from integrations.forms import EndpointForm, RedeliverFailedForm, SendTestForm
from integrations.models import EVENT_TYPES, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.errors import DomainError, NotFound

PER_PAGE = 50
#: the session key that lets the endpoint page show a new secret once
REVEAL_KEY = "webhooks.reveal_secret"


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint in the URL, scoped to the caller's organization (another tenant's id: 404)."""
    try:
        return selectors.webhook_endpoint_get(org=request.organization, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _delivery(request: HttpRequest, delivery_id: int) -> WebhookDelivery:
    try:
        return selectors.webhook_delivery_get(org=request.organization, delivery_id=delivery_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _detail_url(request: HttpRequest, endpoint_id: int) -> str:
    return reverse("integrations:endpoint-detail", args=[request.organization.slug, endpoint_id])


# --- endpoints ---------------------------------------------------------------------------------------


@org_view("webhooks.manage")
@require_GET
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(selectors.webhook_endpoint_list_with_stats(org=request.organization))
    for endpoint in endpoints:
        finished = endpoint.recent_succeeded + endpoint.recent_failed
        endpoint.success_rate = round(100 * endpoint.recent_succeeded / finished) if finished else None
    return render(
        request,
        "integrations/endpoint_list.html",
        {"nav": "webhooks", "tab": "endpoints", "endpoints": endpoints, "window_days": selectors.ENDPOINT_STATS_WINDOW.days},
    )


@org_view("webhooks.manage")
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None, initial={"enabled": True, "all_events": True})
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_save(
                org=request.organization,
                actor=request.user,
                url=form.cleaned_data["url"],
                event_types=form.chosen_event_types(),
                description=form.cleaned_data["description"],
                enabled=form.cleaned_data["enabled"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            request.session[REVEAL_KEY] = {"endpoint": endpoint.pk, "kind": "created"}
            return redirect(_detail_url(request, endpoint.pk))
    return render(request, "integrations/endpoint_form.html", {"nav": "webhooks", "form": form, "endpoint": None})


@org_view("webhooks.manage")
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    form = EndpointForm.for_endpoint(endpoint, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_endpoint_save(
                org=request.organization,
                actor=request.user,
                endpoint_id=endpoint.pk,
                url=form.cleaned_data["url"],
                event_types=form.chosen_event_types(),
                description=form.cleaned_data["description"],
                enabled=form.cleaned_data["enabled"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, "The endpoint is saved.")
            return redirect(_detail_url(request, endpoint.pk))
    return render(request, "integrations/endpoint_form.html", {"nav": "webhooks", "form": form, "endpoint": endpoint})


@org_view("webhooks.manage")
@require_GET
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    reveal = request.session.get(REVEAL_KEY)
    if reveal and reveal.get("endpoint") == endpoint.pk:
        del request.session[REVEAL_KEY]  # shown on this page load only
    else:
        reveal = None
    now = timezone.now()
    stats = selectors.webhook_endpoint_list_with_stats(org=request.organization, now=now).get(pk=endpoint.pk)
    default_type = endpoint.event_types[0] if endpoint.event_types else EVENT_TYPES[0]
    return render(
        request,
        "integrations/endpoint_detail.html",
        {
            "nav": "webhooks",
            "endpoint": endpoint,
            "stats": stats,
            "window_days": selectors.ENDPOINT_STATS_WINDOW.days,
            "reveal": reveal["kind"] if reveal else None,
            "rotation_until": endpoint.previous_secret_expires_at
            if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now
            else None,
            "test_form": SendTestForm(initial={"event_type": default_type}),
            "redeliver_form": RedeliverFailedForm(initial={"since": RedeliverFailedForm.default_since()}),
        },
    )


def _act(request: HttpRequest, endpoint_id: int, action: Callable[..., object], success: str) -> HttpResponse:
    """Run a one-button service on the endpoint and come back to its page with the outcome."""
    endpoint = _endpoint(request, endpoint_id)  # first: another tenant's id is a 404
    try:
        action(org=request.organization, actor=request.user, endpoint_id=endpoint.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(_detail_url(request, endpoint.pk))


@org_view("webhooks.manage")
@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _act(request, endpoint_id, services.webhook_endpoint_enable, "The endpoint is enabled: deliveries resume.")


@org_view("webhooks.manage")
@require_POST
def endpoint_disable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _act(
        request,
        endpoint_id,
        services.webhook_endpoint_disable,
        "The endpoint is disabled: nothing is sent to it until you enable it.",
    )


@org_view("webhooks.manage")
@require_POST
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    services.webhook_endpoint_rotate_secret(org=request.organization, actor=request.user, endpoint_id=endpoint.pk)
    request.session[REVEAL_KEY] = {"endpoint": endpoint.pk, "kind": "rotated"}
    return redirect(_detail_url(request, endpoint.pk))


@org_view("webhooks.manage")
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    services.webhook_endpoint_delete(org=request.organization, actor=request.user, endpoint_id=endpoint.pk)
    messages.success(request, f"The endpoint {endpoint.url} is deleted, with its delivery log.")
    return redirect("integrations:endpoint-list", request.organization.slug)


@org_view("webhooks.manage")
@require_POST
def endpoint_send_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    form = SendTestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the event types to send a test event.")
        return redirect(_detail_url(request, endpoint.pk))
    try:
        delivery = services.webhook_endpoint_send_test(
            org=request.organization, actor=request.user, endpoint_id=endpoint.pk, event_type=form.cleaned_data["event_type"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_detail_url(request, endpoint.pk))
    messages.success(request, f"A test {delivery.outbox_event.event_type} event is on its way. This page shows what comes back.")
    return redirect("integrations:delivery-detail", request.organization.slug, delivery.pk)


@org_view("webhooks.manage")
@require_POST
def endpoint_redeliver_failed(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    form = RedeliverFailedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the date and time (UTC) from which failed deliveries are sent again.")
        return redirect(_detail_url(request, endpoint.pk))
    try:
        count = services.webhook_endpoint_redeliver_failed(
            org=request.organization, actor=request.user, endpoint_id=endpoint.pk, since=form.cleaned_data["since"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_detail_url(request, endpoint.pk))
    if not count:
        messages.info(request, "No failed delivery since then: nothing to send again.")
        return redirect(_detail_url(request, endpoint.pk))
    messages.success(
        request, ngettext("%(n)d failed delivery is sent again.", "%(n)d failed deliveries are sent again.", count) % {"n": count}
    )
    url = reverse("integrations:endpoint-deliveries", args=[request.organization.slug, endpoint.pk])
    return redirect(f"{url}?status={DeliveryStatus.PENDING}")


# --- delivery log ------------------------------------------------------------------------------------


def _log_filters(params: QueryDict, endpoints: list[WebhookEndpoint] | None) -> dict[str, Any]:
    """The log's filters as the URL carries them; anything unknown counts as "not filtered"."""
    status = params.get("status", "")
    event_type = params.get("event_type", "")
    endpoint = params.get("endpoint", "")
    endpoint_id = int(endpoint) if endpoint.isdigit() else None
    return {
        "status": status if status in DeliveryStatus.values else "",
        "event_type": event_type if event_type in EVENT_TYPES else "",
        "event_id": params.get("q", "").strip()[:40],
        "endpoint_id": endpoint_id if endpoints is not None and endpoint_id in {e.pk for e in endpoints} else None,
    }


def _delivery_log(request: HttpRequest, endpoint: WebhookEndpoint | None) -> HttpResponse:
    """One template for the organization's log and one endpoint's; htmx asks for the table only."""
    org = request.organization
    endpoints = None if endpoint else list(selectors.webhook_endpoint_list(org=org))
    filters = _log_filters(request.GET, endpoints)
    deliveries = selectors.webhook_delivery_log(
        org=org,
        endpoint_id=endpoint.pk if endpoint else filters["endpoint_id"],
        status=filters["status"],
        event_type=filters["event_type"],
        event_id=filters["event_id"],
    )
    page = paginate(request, deliveries, PER_PAGE)
    query = query_without_page(request)
    context = {
        "nav": "webhooks",
        "tab": "deliveries",
        "endpoint": endpoint,
        "endpoints": endpoints,
        "page": page,
        "query": query,
        "filtered": any(v for v in filters.values()),
        "any_pending": any(d.status == DeliveryStatus.PENDING for d in page),
        "poll_url": f"{request.path}?{query}&page={page.number}" if page.number > 1 else f"{request.path}?{query}",
        "statuses": DeliveryStatus.choices,
        "event_types": EVENT_TYPES,
        **filters,
    }
    template = "integrations/delivery_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#delivery-table"
    return render(request, template, context)


@org_view("webhooks.manage")
@require_GET
@vary_on_headers("HX-Request")
def delivery_list(request: HttpRequest) -> HttpResponse:
    return _delivery_log(request, None)


@org_view("webhooks.manage")
@require_GET
@vary_on_headers("HX-Request")
def endpoint_deliveries(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _delivery_log(request, _endpoint(request, endpoint_id))


def _sent_headers(attempt: WebhookAttempt | None, delivery: WebhookDelivery) -> tuple[list[tuple[str, str]], bool]:
    """The headers of a request as sent, and whether they were recorded (else: the ones we can tell again)."""
    if attempt is not None and attempt.request_headers:
        return sorted(attempt.request_headers.items(), key=lambda kv: kv[0].lower()), True
    derived = {
        "Content-Type": "application/json",
        "User-Agent": webhooks.USER_AGENT,
        "webhook-id": delivery.outbox_event.public_id,
    }
    if attempt is not None:
        derived["webhook-timestamp"] = str(int(attempt.attempted_at.timestamp()))
    return list(derived.items()), False


@org_view("webhooks.manage")
@require_GET
@vary_on_headers("HX-Request")
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery(request, delivery_id)
    attempts = list(selectors.webhook_attempt_list(org=request.organization, delivery_id=delivery.pk))
    for attempt in attempts:
        attempt.headers, attempt.headers_recorded = _sent_headers(attempt, delivery)
    headers, headers_recorded = _sent_headers(attempts[-1] if attempts else None, delivery)
    body = webhooks.message_body(delivery.outbox_event)
    context = {
        "nav": "webhooks",
        "delivery": delivery,
        "endpoint": delivery.endpoint,
        "event": delivery.outbox_event,
        "attempts": attempts,
        "headers": headers,
        "headers_recorded": headers_recorded,
        "body": json.dumps(json.loads(body), indent=2, ensure_ascii=False),
        "body_bytes": len(body),
        "pending": delivery.status == DeliveryStatus.PENDING,
    }
    template = "integrations/delivery_detail.html"
    if request.htmx and not request.htmx.boosted:
        template += "#delivery-state"
    return render(request, template, context)


@org_view("webhooks.manage")
@require_POST
def delivery_replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery(request, delivery_id)
    try:
        services.delivery_redeliver(org=request.organization, actor=request.user, delivery_id=delivery.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Sent again: the new attempt appears below.")
    return redirect("integrations:delivery-detail", request.organization.slug, delivery.pk)
