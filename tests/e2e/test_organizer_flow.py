"""An event end to end in a real browser: create, publish, register, check in, see the dashboard change."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Membership, Organization, Role, User
from events.models import CheckIn, Registration

PASSWORD = "a-long-demo-password"


@pytest.fixture
def organizer(transactional_db):
    org = Organization.objects.create(name="Acme Events", slug="acme")
    user = User.objects.create_user(email="olivia@acme.test", password=PASSWORD, name="Olivia")
    Membership.objects.create(organization=org, user=user, role=Role.ORGANIZER)
    return user


def stat(page: Page, testid: str) -> int:
    return int(re.sub(r"\D", "", page.get_by_test_id(testid).first.inner_text()) or 0)


def test_organizer_runs_an_event_end_to_end(page: Page, live_server, organizer, shots):
    base = live_server.url
    page.set_default_timeout(15_000)

    # The organizer logs in with e-mail and password.
    page.goto(f"{base}/accounts/login/")
    shots(page, "login")
    page.locator("input[name=login]").fill("olivia@acme.test")
    page.get_by_label(re.compile("password", re.I)).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    shots(page, "dashboard-before")
    registrations_before = stat(page, "stat-registrations")
    checked_in_before = stat(page, "stat-checked-in")

    # Creates an event.
    page.get_by_role("link", name="Events", exact=True).click()
    shots(page, "events-empty")
    page.get_by_role("link", name=re.compile("New event")).first.click()
    shots(page, "event-new")
    start = (timezone.now() + timedelta(days=14)).replace(hour=9, minute=0)
    page.get_by_label("Title").fill("Browser Conf")
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends").fill((start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Venue", exact=True).fill("Town hall")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("heading", name=re.compile("Browser Conf"))).to_be_visible()
    shots(page, "event-created")

    # Adds a ticket type.
    page.get_by_role("link", name="Ticket types").click()
    shots(page, "ticket-types-empty")
    page.get_by_role("link", name=re.compile("ticket type", re.I)).filter(has_text=re.compile("add|new", re.I)).first.click()
    shots(page, "ticket-type-new")
    page.get_by_label("Name").fill("Standard")
    page.get_by_label("Price").fill("0")
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label("Capacity").fill("50")
    page.get_by_role("button", name=re.compile("save|create|add", re.I)).click()
    expect(page.get_by_role("cell", name="Standard", exact=True)).to_be_visible()
    shots(page, "ticket-type-created")

    # Publishes it, through the confirmation step.
    page.get_by_role("link", name=re.compile("Publish")).click()
    shots(page, "publish-confirm")
    page.get_by_role("button", name="Yes, publish").click()
    expect(page.get_by_text("Published", exact=True).first).to_be_visible()
    shots(page, "event-published")
    public_url = page.get_by_role("link", name=re.compile("Public page")).get_attribute("href")

    # An attendee registers on the public page, in a browser context of their own.
    attendee = page.context.browser.new_context()
    public = attendee.new_page()
    public.goto(base + public_url if public_url.startswith("/") else public_url)
    shots(public, "public-page")
    public.get_by_label("Full name").fill("Ada Attendee")
    public.get_by_label("E-mail").fill("ada@example.com")
    public.get_by_label(re.compile("Standard")).check()
    public.get_by_role("button", name=re.compile("register", re.I)).click()
    expect(public.get_by_text(re.compile("registered", re.I)).first).to_be_visible()
    shots(public, "public-confirmation")
    reg = Registration.objects.get(email="ada@example.com")
    expect(public.get_by_text(reg.code).first).to_be_visible()
    attendee.close()

    # The organizer finds the attendee at the check-in desk and checks them in without a reload.
    page.get_by_role("link", name="Check-in desk").click()
    shots(page, "checkin-desk")
    expect(page.get_by_test_id("checkin-count")).to_have_text("0")
    page.get_by_role("searchbox").first.fill("Ada")
    button = page.get_by_test_id("checkin-button").first
    expect(button).to_be_visible()
    shots(page, "checkin-search")
    page.evaluate("window.__noReload = true")
    button.click()
    expect(page.get_by_test_id("checkin-count")).to_have_text("1")
    expect(page.get_by_text(re.compile("Checked in", re.I)).first).to_be_visible()
    assert page.evaluate("window.__noReload") is True
    shots(page, "checkin-done")
    assert CheckIn.objects.filter(registration=reg).count() == 1

    # The dashboard counts changed.
    page.get_by_role("link", name="Dashboard").click()
    shots(page, "dashboard-after")
    assert stat(page, "stat-registrations") == registrations_before + 1
    assert stat(page, "stat-checked-in") == checked_in_before + 1
