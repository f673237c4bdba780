"""Every main page at phone width: nothing overflows sideways, and nothing loads from another host."""

from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from playwright.sync_api import Page

from events.models import Event

PAGES = [
    "/o/acme/",
    "/o/acme/events/",
    "/o/acme/events/{event}/",
    "/o/acme/events/{event}/edit/",
    "/o/acme/events/{event}/sessions/",
    "/o/acme/events/{event}/tickets/",
    "/o/acme/events/{event}/registrations/",
    "/o/acme/checkin/",
    "/o/acme/events/{event}/checkin/",
    "/o/acme/team/",
    "/o/acme/audit/",
    "/o/acme/developers/",
    "/o/acme/developers/apps/",
    "/developers/quickstart/",
    "/developers/errors/",
    "/developers/changelog/",
    "/o/acme/webhooks/",
    "/o/acme/webhooks/new/",
    "/o/acme/webhooks/deliveries/",
    "/e/acme/{slug}/",
]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=io.StringIO())
    return Event.objects.get(organization__slug="acme", title="Acme DevConf 2026")


@pytest.mark.parametrize("width", [390, 1280])
def test_pages_fit_the_screen_and_load_nothing_from_elsewhere(page: Page, live_server, demo, shots, width):
    page.set_viewport_size({"width": width, "height": 800})
    foreign: list[str] = []
    host = urlparse(live_server.url).netloc
    page.on("request", lambda r: foreign.append(r.url) if urlparse(r.url).netloc not in (host, "") else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=login]").fill("owner@acme.test")
    page.get_by_label("Password").fill("convene-demo")
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    page.wait_for_url(f"{live_server.url}/o/acme/")

    overflowing = {}
    for template in PAGES:
        path = template.format(event=demo.pk, slug=demo.slug)
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        shots(page, path.strip("/").replace("/", "_") or "home")
        extra = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if extra > 1:
            overflowing[path] = extra

    assert overflowing == {}
    assert foreign == []
