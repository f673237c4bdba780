"""The organizer dashboard: counters, registrations per day, check-in rate, upcoming events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import lxml.html
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from events import services
from events.views.dashboard import PLOT_BOTTOM, PLOT_TOP, registrations_chart
from tests.conftest import logged_in_client
from tests.factories import make_event

pytestmark = pytest.mark.django_db


def dashboard_url(org) -> str:
    return reverse("events:dashboard", args=[org.slug])


def page(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200
    return lxml.html.fromstring(response.content)


def stat(doc, testid: str) -> str:
    (element,) = doc.xpath(f'//*[@data-testid="{testid}"]')
    return element.text_content().strip()


def cells(row) -> list[str]:
    return [" ".join(" ".join(td.itertext()).split()) for td in row.xpath("td")]


def register(event, count: int, *, prefix: str = "guest") -> list:
    ticket_type = event.ticket_types.first()
    return [
        services.registration_create(
            org=event.organization, actor=None, ticket_type_id=ticket_type.pk, name=f"Guest {i}", email=f"{prefix}{i}@example.com"
        )
        for i in range(count)
    ]


def test_dashboard_counts_registrations_checkins_rate_and_published_events(org, owner_client, published_event):
    regs = register(published_event, 4)
    services.checkin_perform(org=org, actor=None, registration_id=regs[0].pk)
    make_event(org, title="Still a draft")

    doc = page(owner_client.get(dashboard_url(org)))

    assert stat(doc, "stat-registrations") == "4"
    assert stat(doc, "stat-checked-in") == "1"
    assert stat(doc, "stat-checkin-rate") == "25"
    assert stat(doc, "stat-events") == "1"
    assert doc.xpath("//meter/@value") == ["25"]


def test_dashboard_leaves_cancelled_registrations_out_of_the_total(org, owner_client, published_event):
    regs = register(published_event, 3)
    services.registration_cancel(org=org, actor=None, registration_id=regs[0].pk)

    doc = page(owner_client.get(dashboard_url(org)))

    assert stat(doc, "stat-registrations") == "2"


def test_dashboard_lists_upcoming_events_in_their_own_time_zone(org, owner_client):
    start = datetime(2031, 3, 4, 17, 30, tzinfo=UTC)  # 18:30 in Berlin (CET)
    make_event(org, title="Berlin night", starts_at=start, ends_at=start + timedelta(hours=3), timezone="Europe/Berlin")
    past = timezone.now() - timedelta(days=3)
    make_event(org, title="Long gone", starts_at=past, ends_at=past + timedelta(hours=2))

    doc = page(owner_client.get(dashboard_url(org)))

    rows = [cells(row) for row in doc.xpath('//section[@aria-labelledby="upcoming-heading"]//tbody/tr')]
    assert rows == [["Berlin night Main hall", "Tue 4 Mar 2031, 18:30 Europe/Berlin", "0", "Draft"]]


def test_dashboard_draws_one_bar_per_day_and_the_busiest_fills_the_plot(org, owner_client, published_event):
    register(published_event, 2)

    doc = page(owner_client.get(dashboard_url(org)))

    bars = doc.xpath('//svg[@class="chart"]/rect[@class="bar"]')
    assert len(bars) == 30
    assert bars[-1].get("height") == f"{PLOT_BOTTOM - PLOT_TOP:.1f}"
    assert bars[-1].text_content() == f"{timezone.now():%a %-d %b}: 2 registrations"
    assert {bar.get("height") for bar in bars[:-1]} == {"0.0"}
    assert doc.xpath('//svg[@class="chart"]/text/text()')[0] == "2"  # the y axis' top label


def test_dashboard_shows_an_empty_state_before_anything_happened(org, owner_client):
    doc = page(owner_client.get(dashboard_url(org)))

    assert doc.xpath("//h2/text()")[0] == "Nothing here yet"
    assert [stat(doc, t) for t in ("stat-registrations", "stat-checked-in", "stat-checkin-rate", "stat-events")] == ["0"] * 4
    assert doc.xpath('//svg[@class="chart"]') == []
    assert "No registrations in the last 30 days." in doc.text_content()


def test_dashboard_shows_nothing_of_another_organization(org, other_org, owner_client):
    response = owner_client.get(dashboard_url(org))

    doc = page(response)
    assert stat(doc, "stat-registrations") == "0"
    assert stat(doc, "stat-events") == "0"
    assert b"Globex secret summit" not in response.content


@pytest.mark.parametrize(("role", "status"), [(Role.VIEWER, 200), (Role.DEVELOPER, 200), (Role.CHECKIN, 403)])
def test_dashboard_is_open_to_roles_that_may_see_it(org, member, role, status):
    client = logged_in_client(member(role))

    response = client.get(dashboard_url(org))

    assert response.status_code == status


def test_dashboard_of_an_organization_one_is_not_member_of_is_not_found(other_org, owner_client):
    response = owner_client.get(dashboard_url(other_org))

    assert response.status_code == 404


def test_dashboard_query_count_does_not_grow_with_events(org, owner_client):
    def measure() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(dashboard_url(org)).status_code == 200
        return len(ctx.captured_queries)

    register(make_event(org, publish=True, title="One"), 1, prefix="one")
    one = measure()
    for n in range(2):
        event = make_event(org, publish=True, title=f"More {n}")
        register(event, 2, prefix=f"more{n}-")
        services.checkin_perform(org=org, actor=None, registration_id=event.registrations.first().pk)
    three = measure()

    assert one == three


def test_registrations_chart_labels_every_seventh_day_ending_today():
    today = date(2031, 5, 30)
    per_day = [(today - timedelta(days=29 - i), i % 3) for i in range(30)]

    chart = registrations_chart(per_day)

    assert [bar.day.day for bar in chart.bars if bar.labelled] == [2, 9, 16, 23, 30]
    assert (chart.top, chart.total) == (2, 30)
    assert chart.busiest.day == today
