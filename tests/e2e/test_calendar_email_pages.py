"""The calendar feed page, the E-mails pages and "add to calendar" in a browser, at phone and desktop width."""

from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from events.models import Event, RegistrationStatus


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=io.StringIO())
    return Event.objects.get(organization__slug="acme", title="Acme DevConf 2026")


def _login(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_login").fill("organizer@acme.test")
    page.locator("#id_password").fill("convene-demo")
    page.locator("#id_password").press("Enter")
    page.wait_for_url(re.compile(r"/o/acme/"))


@pytest.mark.parametrize("width", [390, 1280])
def test_calendar_and_email_pages_fit_the_screen(page: Page, live_server, demo, shots, width):
    page.set_viewport_size({"width": width, "height": 800})
    foreign: list[str] = []
    host = urlparse(live_server.url).netloc
    page.on("request", lambda r: foreign.append(r.url) if urlparse(r.url).netloc not in (host, "") else None)
    _login(page, live_server)
    code = demo.registrations.filter(status=RegistrationStatus.CONFIRMED).values_list("code", flat=True).first()

    overflowing = {}
    for path in (
        "/o/acme/calendar-feed/",
        "/o/acme/emails/",
        "/o/acme/emails/confirmation/",
        "/o/acme/emails/event_changed/",
        f"/e/acme/{demo.slug}/",
        f"/e/acme/{demo.slug}/registered/{code}/",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        shots(page, path.strip("/").replace("/", "_"))
        extra = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if extra > 1:
            overflowing[path] = extra

    assert overflowing == {}
    assert foreign == []


def test_preview_follows_typing_and_shows_template_errors(page: Page, live_server, demo):
    page.set_viewport_size({"width": 390, "height": 800})
    _login(page, live_server)
    page.goto(f"{live_server.url}/o/acme/emails/reminder/")

    page.get_by_label("Subject").fill("See you soon, {{ attendee_name }}")
    expect(page.locator("#email-preview")).to_contain_text("See you soon, Ada Lovelace")
    page.locator(".email-frame").scroll_into_view_if_needed()
    expect(page.frame_locator(".email-frame").locator("h1")).to_have_text("Sample Conference 2026 starts soon")

    page.get_by_label("HTML").fill("<p>{% if %}</p>")
    expect(page.get_by_test_id("preview-problems")).to_contain_text("HTML: Line 1")


def test_copy_button_copies_the_feed_address(page: Page, live_server, demo):
    page.set_viewport_size({"width": 390, "height": 800})
    _login(page, live_server)
    page.goto(f"{live_server.url}/o/acme/calendar-feed/")

    expect(page.get_by_test_id("feed-url")).to_have_value(re.compile(r"^webcal://.+/calendar/acme/.+\.ics$"))
    page.get_by_role("button", name="Copy").click()

    expect(page.get_by_role("button", name="Copied ✓")).to_be_visible()
