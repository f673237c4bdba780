"""The developer's API usage page: requests, errors, p95 latency and rate-limit hits per app and key, as charts,
a table per endpoint and the last 100 requests (searchable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.models import ApiKey, App
from accounts.permissions import org_view
from portal import usage

# An inline SVG like the dashboard's: horizontal positions in % (it stretches with its card), vertical ones in
# px (its height is fixed by .chart), so the labels keep their size at any width.
PLOT_LEFT = 11.0  # % of the width kept for the y-axis labels ("1.2k", "100 %", "850 ms")
PLOT_TOP, PLOT_BOTTOM = 12, 134  # px
MIN_BAR = 2  # px: a small value stays visible next to a large one


@dataclass(frozen=True)
class Bar:
    x: str
    width: str
    y: str
    height: str
    center: str
    anchor: str
    label: str  # under the bar, or "" (every few bars only)
    title: str  # the tooltip: when, and the value


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    bars: list[Bar]
    top: str
    summary: str
    has_data: bool
    plot_left: str = f"{PLOT_LEFT}%"
    label_x: str = f"{PLOT_LEFT - 1.5}%"
    plot_top: int = PLOT_TOP
    plot_middle: int = (PLOT_TOP + PLOT_BOTTOM) // 2
    plot_bottom: int = PLOT_BOTTOM
    date_y: int = PLOT_BOTTOM + 16


def _count(n: float) -> str:
    return f"{n / 1000:.1f}k".replace(".0k", "k") if n >= 1000 else f"{n:.0f}"


def _percent(n: float) -> str:
    return f"{n:.1f} %".replace(".0 %", " %")


def _ms(n: float) -> str:
    return f"{n:,.0f} ms" if n >= 100 else f"{n:.1f} ms"


def bar_chart(
    *,
    key: str,
    title: str,
    period: usage.Period,
    points: list[tuple[datetime, float | None]],
    fmt: Callable[[float], str],
    summary: str,
) -> Chart:
    """Bar geometry: the tallest bar fills the plot; ``None`` (nothing to measure) draws no bar."""
    top = max((v for _, v in points if v is not None), default=0) or 0
    slot = (100 - PLOT_LEFT) / max(len(points), 1)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    label_every = 6 if period.unit == "hour" else (1 if len(points) <= 7 else 7)
    when = "%H:00" if period.unit == "hour" else "%-d %b"
    bars = []
    for i, (start, value) in enumerate(points):
        height = max(plot_height * value / top, MIN_BAR) if value else 0
        last = i == len(points) - 1
        tooltip_when = start.strftime("%a %-d %b, %H:00 UTC" if period.unit == "hour" else "%a %-d %b")
        bars.append(
            Bar(
                x=f"{PLOT_LEFT + (i + 0.15) * slot:.2f}%",
                width=f"{slot * 0.7:.2f}%",
                y=f"{PLOT_BOTTOM - height:.1f}",
                height=f"{height:.1f}",
                center="100%" if last else f"{PLOT_LEFT + (i + 0.5) * slot:.2f}%",
                anchor="end" if last else "middle",
                label=start.strftime(when) if (len(points) - 1 - i) % label_every == 0 else "",
                title=f"{tooltip_when}: {fmt(value) if value is not None else 'no requests'}",
            )
        )
    return Chart(key=key, title=title, bars=bars, top=fmt(top), summary=summary, has_data=bool(top))


def usage_charts(overview: usage.UsageOverview) -> list[Chart]:
    period, buckets = overview.period, overview.buckets
    per = "hour" if period.unit == "hour" else "day"
    return [
        bar_chart(
            key="requests", title=f"Requests per {per}", period=period, fmt=_count,
            points=[(b.start, b.requests) for b in buckets], summary=f"{overview.requests:,} in all",
        ),
        bar_chart(
            key="errors", title=f"Error rate per {per}", period=period, fmt=_percent,
            points=[(b.start, b.error_rate) for b in buckets],
            summary=f"{overview.errors:,} error{'s' if overview.errors != 1 else ''} (HTTP 4xx and 5xx)",
        ),
        bar_chart(
            key="latency", title=f"p95 latency per {per}", period=period, fmt=_ms,
            points=[(b.start, b.p95) for b in buckets],
            summary=f"{_ms(overview.p95)} over the period" if overview.p95 is not None else "no requests",
        ),
        bar_chart(
            key="rate-limited", title=f"Rate-limit hits per {per}", period=period, fmt=_count,
            points=[(b.start, b.rate_limited) for b in buckets],
            summary=f"{overview.rate_limited:,} refused with 429",
        ),
    ]  # fmt: skip


def _choice(value: str | None, allowed: set[int]) -> int | None:
    """An id from the query string, when it names one of the organization's objects (else: no filter)."""
    try:
        chosen = int(value or "")
    except ValueError:
        return None
    return chosen if chosen in allowed else None


@org_view("apikeys.manage")
@require_GET
@vary_on_headers("HX-Request")
def usage_page(request: HttpRequest) -> HttpResponse:
    org = request.organization
    apps = list(App.objects.for_org(org))
    keys = list(ApiKey.objects.for_org(org).order_by("app_id", "name", "id"))
    app_id = _choice(request.GET.get("app"), {a.pk for a in apps})
    key_id = _choice(request.GET.get("key"), {k.pk for k in keys})
    period = usage.PERIODS.get(request.GET.get("period", ""), usage.PERIODS[usage.DEFAULT_PERIOD])
    query = request.GET.get("q", "").strip()[:200]
    now = timezone.now()
    since = period.starts(now)[0]
    recent = usage.usage_recent(org=org, app_id=app_id, api_key_id=key_id, since=since, query=query)
    context = {
        "nav": "developers",
        "apps": apps,
        "key_groups": _key_groups(apps, keys),
        "app_id": app_id,
        "key_id": key_id,
        "period": period,
        "periods": usage.PERIODS.values(),
        "query": query,
        "recent": recent,
        "recent_limit": usage.RECENT_LIMIT,
        "filtered": bool(app_id or key_id),
        "api_root": request.build_absolute_uri("/api/v1/"),
    }
    template = "portal/usage.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "request-table":
        return render(request, template + "#request-table", context)  # the live search: the list only
    overview = usage.usage_overview(org=org, period=period, app_id=app_id, api_key_id=key_id, now=now)
    context.update(overview=overview, charts=usage_charts(overview))
    if request.htmx and not request.htmx.boosted and request.htmx.target == "usage-body":
        template += "#usage-body"
    return render(request, template, context)


def _key_groups(apps: list[App], keys: list[ApiKey]) -> list[tuple[str, list[ApiKey]]]:
    """Keys grouped by app (for the key filter's optgroups); keys of no app last."""
    names = {a.pk: a.name for a in apps}
    groups: dict[int | None, list[ApiKey]] = {a.pk: [] for a in apps}
    loose = []
    for key in keys:
        groups.get(key.app_id, loose).append(key)
    result = [(names[app_id], group) for app_id, group in groups.items() if group]
    if loose:
        result.append(("No app" if result else "Keys", loose))
    return result
