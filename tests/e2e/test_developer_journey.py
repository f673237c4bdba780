"""A developer's first five minutes, in a browser: sign up, land in a sandbox, make a key, call the API with it,
subscribe a webhook to a receiver of ours, fire test events at it and see the deliveries in the log."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from accounts.models import ApiKey, Organization
from integrations.models import EVENT_TYPES, DeliveryStatus, WebhookDelivery
from tests.integrations.receivers import KeepAliveReceiver


@pytest.fixture
def receiver():
    server = KeepAliveReceiver()
    yield server
    server.stop()


@pytest.mark.parametrize("width", [390, 1280])
def test_sign_up_to_a_first_api_call_and_webhook(page: Page, live_server, transactional_db, receiver, shots, width):
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url

    # sign up as a developer, from allauth's own sign-up page
    page.goto(f"{base}/accounts/signup/")
    page.get_by_test_id("developer-signup").click()
    page.locator("input[name=email]").fill("lin@example.com")
    page.locator("input[name=password1]").fill("a-Long-pass-9")
    page.locator("input[name=password2]").fill("a-Long-pass-9")
    page.get_by_role("button", name="Create account and sandbox").click()

    # land on the developer home of a sandbox filled with sample data
    page.wait_for_url(re.compile(rf"{re.escape(base)}/o/[\w-]+/developers/$"))
    sandbox = Organization.objects.get(memberships__user__email="lin@example.com")
    assert sandbox.is_sandbox
    expect(page.get_by_role("heading", name="Your sandbox")).to_be_visible()
    expect(page.get_by_test_id("sandbox-events")).to_have_text("3")
    shots(page, "developer-home")

    # an app, then a key in it, shown once
    page.get_by_role("link", name="Apps & keys").first.click()
    page.get_by_label("App name").fill("Journey app")
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_test_id("app-name")).to_have_text("Journey app")
    page.get_by_label("Key name").fill("laptop")
    for scope in ("events:read", "webhooks:read", "webhooks:write"):
        page.get_by_role("checkbox", name=re.compile(rf"^{scope}\b")).check()
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-value").input_value()
    assert secret.startswith("cnv_test_")
    shots(page, "key-created")

    # the key works against the API of the live server, and sees the sandbox's sample events
    answer = httpx.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["pagination"]["total"] == 3
    assert ApiKey.objects.get(organization=sandbox).last_used_at is not None

    # subscribe our receiver, fire every event type at it, watch the delivery log
    page.goto(f"{base}/o/{sandbox.slug}/webhooks/new/")
    page.get_by_label("Endpoint URL").fill(receiver.url("/convene"))
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_test_id("endpoint-secret")).to_be_visible()
    page.goto(f"{base}/o/{sandbox.slug}/developers/")
    page.get_by_test_id("send-test-events").click()

    page.wait_for_url(f"{base}/o/{sandbox.slug}/webhooks/deliveries/")
    expect(page.get_by_test_id("delivery-total")).to_contain_text(f"{len(EVENT_TYPES)} deliveries")
    expect(page.get_by_test_id("delivery-status").first).to_have_text("Succeeded", timeout=10_000)
    shots(page, "delivery-log")
    assert len(receiver.ids("/convene")) == len(EVENT_TYPES)
    assert all(m.headers.get("webhook-signature", "").startswith("v1,") for m in receiver.messages)
    statuses = set(WebhookDelivery.objects.filter(organization=sandbox).values_list("status", flat=True))
    assert statuses == {DeliveryStatus.SUCCEEDED}
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
