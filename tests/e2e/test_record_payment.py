"""An organizer records a bank transfer from the registrations table, on a phone and on a laptop."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from events import services
from events.models import Payment, Registration, RegistrationStatus
from tests.factories import PASSWORD, make_event, make_member, make_org


@pytest.fixture
def pending(transactional_db):
    org = make_org("Acme Events", slug="acme-pay")
    make_member(org, Role.ORGANIZER, email="olivia@acme.test")
    event = make_event(org, publish=True, price=Decimal("49.00"), title="Paid conference")
    return services.registration_create(
        org=org, actor=None, ticket_type_id=event.ticket_types.get().pk, name="Pat Payer", email="pat@example.com"
    )


@pytest.mark.parametrize("width", [390, 1280])
def test_organizer_records_a_payment_and_the_registration_is_confirmed(page: Page, live_server, pending, shots, width):
    base = live_server.url
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=login]").fill("olivia@acme.test")
    page.get_by_label(re.compile("password", re.I)).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(page).to_have_url(re.compile(r"/o/acme-pay/$"))

    page.goto(f"{base}/o/acme-pay/events/{pending.event_id}/registrations/")
    shots(page, f"registrations-{width}")
    page.get_by_test_id("record-payment").click()
    expect(page.get_by_test_id("payment-due")).to_have_text("49.00 EUR")
    expect(page.get_by_label(re.compile("Amount"))).to_have_value("49.00")
    shots(page, f"record-payment-{width}")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    page.get_by_label("Reference").fill("Transfer 2025-0412")
    page.get_by_test_id("record-payment-submit").click()

    expect(page).to_have_url(re.compile(rf"/events/{pending.event_id}/registrations/$"))
    expect(page.get_by_text("The registration is confirmed.")).to_be_visible()
    expect(page.get_by_test_id("record-payment")).to_have_count(0)
    shots(page, f"registrations-after-{width}")
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.CONFIRMED
    assert Payment.objects.get(registration_id=pending.pk).reference == "Transfer 2025-0412"
