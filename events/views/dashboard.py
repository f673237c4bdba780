"""The organization's dashboard: what is coming up, how registrations go, how many people came in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import org_view
from events import selectors
from events.models import ACTIVE_STATUSES, EventStatus

CHART_DAYS = 30
# The chart is an inline SVG: horizontal positions in % (it stretches with the card), vertical ones in px
# (its height is fixed by .chart), so the axis labels keep their size at any width.
PLOT_LEFT = 7.0  # % of the width kept for the y-axis labels
PLOT_TOP, PLOT_BOTTOM = 12, 134  # px
LABEL_EVERY = 7  # a date under every 7th bar, today's included
MIN_BAR = 2  # px: a day with one registration stays visible next to a busy one


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: str
    width: str
    y: str
    height: str
    center: str
    labelled: bool
    anchor: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    top: int
    total: int
    busiest: Bar | None
    plot_left: str = f"{PLOT_LEFT}%"
    label_x: str = f"{PLOT_LEFT - 1}%"
    plot_top: int = PLOT_TOP
    plot_middle: int = (PLOT_TOP + PLOT_BOTTOM) // 2
    plot_bottom: int = PLOT_BOTTOM
    date_y: int = PLOT_BOTTOM + 16


def registrations_chart(per_day: list[tuple[date, int]]) -> Chart:
    """Bar geometry for registrations per day; the tallest bar fills the plot."""
    top = max((n for _, n in per_day), default=0)
    slot = (100 - PLOT_LEFT) / max(len(per_day), 1)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for i, (day, n) in enumerate(per_day):
        height = max(plot_height * n / top, MIN_BAR) if n else 0
        bars.append(
            Bar(
                day=day,
                count=n,
                x=f"{PLOT_LEFT + (i + 0.15) * slot:.2f}%",
                width=f"{slot * 0.7:.2f}%",
                y=f"{PLOT_BOTTOM - height:.1f}",
                height=f"{height:.1f}",
                # The last date ends flush with the right edge instead of being cut in half.
                center="100%" if i == len(per_day) - 1 else f"{PLOT_LEFT + (i + 0.5) * slot:.2f}%",
                labelled=(len(per_day) - 1 - i) % LABEL_EVERY == 0,
                anchor="end" if i == len(per_day) - 1 else "middle",
            )
        )
    busiest = max(bars, key=lambda b: (b.count, b.day)) if top else None
    return Chart(bars=bars, top=top, total=sum(n for _, n in per_day), busiest=busiest)


@org_view("dashboard.view")
def dashboard(request: HttpRequest) -> HttpResponse:
    org = request.organization
    upcoming = list(selectors.upcoming_events(org=org))
    registrations = selectors.registration_list(org=org).filter(status__in=ACTIVE_STATUSES).count()
    events_published = selectors.event_list(org=org, status=EventStatus.PUBLISHED).count()
    return render(
        request,
        "events/dashboard.html",
        {
            "upcoming": upcoming,
            "chart": registrations_chart(selectors.registrations_per_day(org=org, days=CHART_DAYS)),
            "chart_days": CHART_DAYS,
            "checkins": selectors.checkin_stats(org=org),
            "registration_total": registrations,
            "events_published": events_published,
            "is_empty": not upcoming and not registrations and not events_published,
        },
    )
