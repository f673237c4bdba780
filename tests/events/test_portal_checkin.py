"""The check-in desk: the event picker, live search, scanning a code and the one-click check-in."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from events import services
from events.models import CheckIn, Registration
from integrations.models import OutboxEvent
from tests.factories import make_event, make_ticket_type

HX = {"HX-Request": "true"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _register(event, name: str, *, ticket_type=None) -> Registration:
    tt = ticket_type or event.ticket_types.first()
    email = f"{name.lower().replace(' ', '.')}@example.com"
    return services.registration_create(org=event.organization, actor=None, ticket_type_id=tt.pk, name=name, email=email)


def _desk_url(org, event) -> str:
    return reverse("events:checkin-desk", args=[org.slug, event.pk])


def _perform_url(org, event, reg) -> str:
    return reverse("events:checkin-perform", args=[org.slug, event.pk, reg.pk])


def _testid(html: str, testid: str) -> str:
    """The text of the element carrying data-testid=``testid``."""
    match = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert match, f"no {testid} in the response"
    return match.group(1).strip()


@pytest.fixture
def event(org):
    return make_event(org, publish=True, title="Door event", capacity=None)


@pytest.fixture
def ada(event):
    return _register(event, "Ada Lovelace")


@pytest.fixture
def checkin_client(member):
    return _client(member(Role.CHECKIN))


# --- Event picker ----------------------------------------------------------------------------------


def test_checkin_index_lists_running_and_upcoming_published_events_today_first(organizer_client, org):
    now = timezone.now()
    later = make_event(org, publish=True, title="Next month", days=30)
    running = make_event(
        org, publish=True, title="Running now", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=5)
    )
    make_event(org, publish=False, title="Draft event")
    make_event(org, publish=True, title="Finished", starts_at=now - timedelta(days=3), ends_at=now - timedelta(days=2))
    services.checkin_perform(org=org, actor=None, registration_id=_register(running, "Ada Lovelace").pk)
    _register(running, "Grace Hopper")

    response = organizer_client.get(reverse("events:checkin-index", args=[org.slug]))

    assert response.status_code == 200
    assert [e.title for e in response.context["page"]] == ["Running now", "Next month"]
    html = response.content.decode()
    assert _testid(html, "checkin-count") == "1"
    assert _testid(html, "checkin-expected") == "2"
    assert _desk_url(org, running) in html
    assert _desk_url(org, later) in html


def test_checkin_index_query_count_does_not_grow_with_events(organizer_client, org, django_assert_num_queries):
    url = reverse("events:checkin-index", args=[org.slug])
    _register(make_event(org, publish=True), "Ada Lovelace")
    with CaptureQueriesContext(connection) as one:
        organizer_client.get(url)
    for _ in range(2):
        _register(make_event(org, publish=True), "Grace Hopper")

    with django_assert_num_queries(len(one.captured_queries)):
        response = organizer_client.get(url)

    assert len(response.context["page"]) == 3


# --- Desk: search --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["grace", "GRACE.HOPPER@", "code"])
def test_checkin_desk_search_finds_by_name_email_or_code(organizer_client, org, event, ada, query):
    grace = _register(event, "Grace Hopper")
    query = grace.code.lower() if query == "code" else query

    response = organizer_client.get(_desk_url(org, event), {"q": query}, headers=HX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="checkin-results"')
    assert "Grace Hopper" in html
    assert "Ada Lovelace" not in html
    assert html.count('data-testid="checkin-button"') == 1


def test_checkin_desk_full_page_shows_counters_and_autofocused_search(organizer_client, org, event, ada):
    _register(event, "Grace Hopper")
    services.checkin_perform(org=org, actor=None, registration_id=ada.pk)

    response = organizer_client.get(_desk_url(org, event), {"q": "ada"})

    html = response.content.decode()
    assert response.status_code == 200
    assert (_testid(html, "checkin-count"), _testid(html, "checkin-expected"), _testid(html, "checkin-rate")) == (
        "1",
        "2",
        "50 %",
    )
    assert re.search(r'<input id="checkin-q"[^>]*value="ada"[^>]*autofocus', html)
    assert "Checked in at" in html


def test_checkin_desk_search_query_count_does_not_grow_with_rows(organizer_client, org, event, django_assert_num_queries):
    _register(event, "Smith One")
    with CaptureQueriesContext(connection) as one:
        organizer_client.get(_desk_url(org, event), {"q": "smith"}, headers=HX)
    services.checkin_perform(org=org, actor=None, registration_id=_register(event, "Smith Two").pk)
    _register(event, "Smith Three")

    with django_assert_num_queries(len(one.captured_queries)):
        response = organizer_client.get(_desk_url(org, event), {"q": "smith"}, headers=HX)

    assert response.content.decode().count('data-testid="checkin-row"') == 3


# --- Desk: checking in ---------------------------------------------------------------------------


def test_checkin_perform_checks_in_and_updates_the_counters(organizer_client, org, event, ada):
    _register(event, "Grace Hopper")

    response = organizer_client.post(_perform_url(org, event, ada), {"q": "ada"}, headers=HX)

    checkin = CheckIn.objects.get(registration=ada)
    time = timezone.localtime(checkin.checked_in_at, event.tz).strftime("%H:%M")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<div class="card checkin-result" id="checkin-row-{ada.pk}"')
    assert re.search(rf'Checked in at <time datetime="[^"]+">{time}</time>', html)
    assert 'id="checkin-counters" class="grid grid-3 stats checkin-counters" hx-swap-oob="true"' in html
    assert (_testid(html, "checkin-count"), _testid(html, "checkin-expected")) == ("1", "2")
    assert _testid(html, "checkin-flash") == f"✓ Ada Lovelace checked in at {time} · General"
    assert OutboxEvent.objects.filter(event_type="checkin.completed", payload__registrationId=ada.pk).count() == 1


def test_checkin_perform_second_attempt_says_already_checked_in(organizer_client, org, event, ada):
    organizer_client.post(_perform_url(org, event, ada), headers=HX)
    first = CheckIn.objects.get(registration=ada)
    time = timezone.localtime(first.checked_in_at, event.tz).strftime("%H:%M")

    response = organizer_client.post(_perform_url(org, event, ada), headers=HX)

    html = response.content.decode()
    assert CheckIn.objects.filter(registration=ada).count() == 1
    assert _testid(html, "checkin-flash") == f"✕ Ada Lovelace: Already checked in at {time}."
    assert f'<div class="errorlist" role="alert">Already checked in at {time}.</div>' in html
    assert _testid(html, "checkin-count") == "1"


def test_checkin_perform_refuses_a_cancelled_registration(organizer_client, org, event, ada):
    services.registration_cancel(org=org, actor=None, registration_id=ada.pk)

    response = organizer_client.post(_perform_url(org, event, ada), headers=HX)

    assert CheckIn.objects.count() == 0
    assert _testid(response.content.decode(), "checkin-flash") == "✕ Ada Lovelace: This registration was cancelled."


def test_checkin_perform_refuses_a_registration_pending_payment(organizer_client, org, event):
    paid = make_ticket_type(event, name="Supporter", price=Decimal("25.00"))
    linus = _register(event, "Linus Torvalds", ticket_type=paid)

    response = organizer_client.post(_perform_url(org, event, linus), headers=HX)

    html = response.content.decode()
    assert CheckIn.objects.count() == 0
    assert _testid(html, "checkin-flash") == "✕ Linus Torvalds: This registration is not confirmed yet (payment pending)."
    assert _testid(html, "checkin-state") == "Payment pending"


def test_checkin_perform_without_htmx_redirects_to_the_desk_with_a_message(organizer_client, org, event, ada):
    response = organizer_client.post(_perform_url(org, event, ada), {"q": "ada"})

    assert response.status_code == 302
    assert response["Location"] == _desk_url(org, event) + "?q=ada"
    page = organizer_client.get(response["Location"]).content.decode()
    assert "Ada Lovelace checked in at" in page


def test_checkin_desk_enter_with_a_full_code_checks_in_directly(organizer_client, org, event, ada):
    _register(event, "Grace Hopper")

    response = organizer_client.post(_desk_url(org, event), {"q": f" {ada.code} "}, headers=HX)

    html = response.content.decode()
    assert CheckIn.objects.filter(registration=ada).count() == 1
    assert html.lstrip().startswith('<section id="checkin-scan"')
    assert re.search(r'<input id="checkin-q"[^>]*value=""', html)  # emptied for the next scan
    assert _testid(html, "checkin-count") == "1"
    assert 'id="checkin-counters" class="grid grid-3 stats checkin-counters" hx-swap-oob="true"' in html
    assert _testid(html, "checkin-flash").startswith("✓ Ada Lovelace checked in at ")


def test_checkin_desk_enter_with_a_name_only_searches(organizer_client, org, event, ada):
    response = organizer_client.post(_desk_url(org, event), {"q": "Ada Lovelace"}, headers=HX)

    html = response.content.decode()
    assert CheckIn.objects.count() == 0
    assert 'data-testid="checkin-button"' in html
    assert _testid(html, "checkin-count") == "0"


def test_checkin_desk_scanning_a_code_twice_says_already_checked_in(organizer_client, org, event, ada):
    organizer_client.post(_desk_url(org, event), {"q": ada.code}, headers=HX)

    response = organizer_client.post(_desk_url(org, event), {"q": ada.code}, headers=HX)

    assert CheckIn.objects.filter(registration=ada).count() == 1
    assert "Already checked in at" in _testid(response.content.decode(), "checkin-flash")


# --- Who may do what -------------------------------------------------------------------------------


def test_checkin_role_can_use_the_desk_but_not_the_registrations(checkin_client, org, event, ada):
    index = checkin_client.get(reverse("events:checkin-index", args=[org.slug]))
    desk = checkin_client.get(_desk_url(org, event), {"q": "ada"})
    perform = checkin_client.post(_perform_url(org, event, ada), headers=HX)
    registrations = checkin_client.get(reverse("events:registration-list", args=[org.slug, event.pk]))

    assert [index.status_code, desk.status_code, perform.status_code, registrations.status_code] == [200, 200, 200, 403]
    assert CheckIn.objects.filter(registration=ada).count() == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_checkin_is_forbidden_to_read_only_roles(member, org, event, ada, role):
    client = _client(member(role))

    responses = [client.get(_desk_url(org, event)), client.post(_perform_url(org, event, ada), headers=HX)]

    assert [r.status_code for r in responses] == [403, 403]
    assert CheckIn.objects.count() == 0


def test_checkin_of_another_organizations_event_or_registration_is_404(organizer_client, org, event, other_org):
    foreign_event = other_org.events.get()
    foreign_reg = Registration.objects.get(organization=other_org)

    responses = [
        organizer_client.get(_desk_url(org, foreign_event)),
        organizer_client.post(_perform_url(org, foreign_event, foreign_reg), headers=HX),
        organizer_client.post(_perform_url(org, event, foreign_reg), headers=HX),
        organizer_client.get(_perform_url(org, event, foreign_reg)),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert CheckIn.objects.count() == 0


def test_checkin_perform_answers_get_with_method_not_allowed(organizer_client, org, event, ada):
    response = organizer_client.get(_perform_url(org, event, ada))

    assert response.status_code == 405
    assert CheckIn.objects.count() == 0


def test_checkin_perform_of_a_registration_of_another_event_is_404(organizer_client, org, event):
    elsewhere = _register(make_event(org, publish=True, title="Elsewhere"), "Grace Hopper")

    response = organizer_client.post(_perform_url(org, event, elsewhere), headers=HX)

    assert response.status_code == 404
    assert CheckIn.objects.count() == 0


def test_checkin_desk_scan_ignores_a_code_of_another_event(organizer_client, org, event):
    elsewhere = _register(make_event(org, publish=True, title="Elsewhere"), "Grace Hopper")

    response = organizer_client.post(_desk_url(org, event), {"q": elsewhere.code}, headers=HX)

    assert CheckIn.objects.count() == 0
    assert "No registration matches" in response.content.decode()
