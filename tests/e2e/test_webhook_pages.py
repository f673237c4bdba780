"""The webhook pages in a browser: add an endpoint, copy its secret once, follow deliveries live, at phone and desktop width."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Organization
from integrations.models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

LONG_URL = (
    "https://receiver-with-a-rather-long-host-name.integrations.example.com/webhooks/convene/v1/incoming-events?tenant=acme"
)


@pytest.fixture
def acme(transactional_db):
    call_command("seed_demo", stdout=io.StringIO())
    return Organization.objects.get(slug="acme")


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=login]").fill("owner@acme.test")
    page.get_by_label("Password").fill("convene-demo")
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    page.wait_for_url(f"{base}/o/acme/")


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def a_delivery(endpoint: WebhookEndpoint, status: str, **fields) -> WebhookDelivery:
    event = OutboxEvent.objects.create(
        organization=endpoint.organization,
        event_type="registration.confirmed",
        payload={"id": 42, "name": "Pat Example", "email": "pat@example.com", "notes": "x" * 300},
        dispatched_at=timezone.now(),
    )
    return WebhookDelivery.objects.create(
        organization=endpoint.organization, endpoint=endpoint, outbox_event=event, status=status, **fields
    )


@pytest.mark.parametrize("width", [390, 1280])
def test_webhook_pages_fit_the_screen(page: Page, live_server, acme, shots, width):
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, live_server.url)

    # add an endpoint through the form; the secret is shown once, with a copy button
    page.goto(f"{live_server.url}/o/acme/webhooks/new/")
    page.get_by_label("Endpoint URL").fill(LONG_URL)
    page.get_by_label("Description").fill("CRM sync")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_test_id("endpoint-secret")).to_contain_text("won't see it again")
    shots(page, "endpoint-created")
    endpoint = WebhookEndpoint.objects.get(organization=acme)
    assert page.locator("#endpoint-secret-value").input_value() == endpoint.secret

    failed = a_delivery(endpoint, DeliveryStatus.FAILED, attempt_count=2, last_status_code=500)
    WebhookAttempt.objects.create(
        organization=acme,
        delivery=failed,
        status_code=500,
        duration_ms=120,
        response_excerpt="<html><body>" + "Internal error while processing the webhook payload " * 20 + "</body></html>",
        request_headers={"webhook-id": failed.outbox_event.public_id, "webhook-signature": "v1," + "A" * 44 + " v1," + "B" * 44},
    )
    overflowing = {}
    for path in (
        "/o/acme/webhooks/",
        f"/o/acme/webhooks/{endpoint.pk}/",
        f"/o/acme/webhooks/{endpoint.pk}/edit/",
        f"/o/acme/webhooks/{endpoint.pk}/deliveries/",
        "/o/acme/webhooks/deliveries/",
        f"/o/acme/webhooks/deliveries/{failed.pk}/",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        shots(page, path.strip("/").replace("/", "_"))
        if (extra := overflow(page)) > 1:
            overflowing[path] = extra

    assert overflowing == {}
    # the secret is not on the endpoint page any more
    page.goto(f"{live_server.url}/o/acme/webhooks/{endpoint.pk}/")
    expect(page.get_by_test_id("endpoint-url")).to_be_visible()
    assert page.get_by_test_id("endpoint-secret").count() == 0


def test_all_events_greys_out_the_event_types_and_copy_puts_the_secret_on_the_clipboard(page: Page, live_server, acme):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/acme/webhooks/new/")

    all_events = page.get_by_label("All events, including types added later")
    expect(all_events).to_be_checked()
    expect(page.get_by_role("checkbox", name="payment.failed")).to_be_disabled()
    all_events.uncheck()
    page.get_by_role("checkbox", name="payment.failed").check()
    page.get_by_label("Endpoint URL").fill("https://hooks.example.com/pay")
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_role("button", name="Copy").click()

    expect(page.get_by_role("button", name="Copied ✓")).to_be_visible()
    endpoint = WebhookEndpoint.objects.get(organization=acme)
    assert endpoint.event_types == ["payment.failed"]
    assert page.evaluate("navigator.clipboard.readText()") == endpoint.secret


def test_pending_delivery_updates_by_itself_and_polling_stops(page: Page, live_server, acme):
    endpoint = WebhookEndpoint.objects.create(organization=acme, url="https://hooks.example.com/live")
    pending = a_delivery(endpoint, DeliveryStatus.PENDING, next_attempt_at=timezone.now())
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/acme/webhooks/deliveries/")
    expect(page.get_by_test_id("delivery-status")).to_have_text("Pending")
    expect(page.locator("#delivery-table[data-polling]")).to_have_count(1)

    WebhookDelivery.objects.filter(pk=pending.pk).update(status=DeliveryStatus.SUCCEEDED, attempt_count=1, last_status_code=200)

    expect(page.get_by_test_id("delivery-status")).to_have_text("Succeeded", timeout=10_000)
    expect(page.locator("#delivery-table[data-polling]")).to_have_count(0)
