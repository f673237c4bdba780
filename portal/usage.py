"""API usage: every authenticated /api/v1 request becomes an ``ApiRequest`` row, for the developer's usage pages.

Counting must not slow the API, so ``usage_record`` (called by ApiMiddleware once the response is ready) only
appends a tuple to a list in process memory. A background thread per process bulk-inserts that buffer every
second, or as soon as it holds ``FLUSH_ROWS`` rows, and once more when the process exits; rows older than
``RETENTION`` are deleted by the same thread about once an hour. Nothing here ever fails a request: a failed
write is logged and retried with the next batch (the buffer is bounded, the oldest rows give way first).

``settings.API_USAGE`` switches counting off; ``settings.API_USAGE_FLUSH`` is ``"background"`` (the thread),
``"sync"`` (write at once, in the request: tests) or ``"manual"`` (only ``usage_flush()`` writes: the default
under pytest, so other tests' query counts stay what they were).

The selectors below read the rows back for one organization, optionally one app and one key.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet
from django.db.models.functions import Trunc
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone

from accounts.models import ApiRequest, Organization

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
FLUSH_ROWS = 200
#: at most this many rows wait in memory (when the database is away); the oldest are dropped beyond it
MAX_BUFFER = 20_000
RETENTION = timedelta(days=30)
PRUNE_EVERY = 3600  # seconds
RECENT_LIMIT = 100
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")

# (organization id, credential id, api key id, app id, method, path, route or None, status, duration ms,
#  correlation id, rate limited, created at)
Row = tuple[int, str, int | None, int | None, str, str, str | None, int, float, str, bool, datetime]

_buffer: list[Row] = []
_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None
_last_prune = 0.0


# --- Recording ------------------------------------------------------------------------------------


def usage_record(*, request: HttpRequest, response: HttpResponse, principal: object, started: float) -> None:
    """Count one answered API request of ``principal`` (cheap: an append; never raises)."""
    try:
        if not settings.API_USAGE:
            return
        key = principal.api_key
        match = getattr(request, "resolver_match", None)
        row: Row = (
            principal.organization.pk,
            principal.credential_id[:100],
            key.pk if key is not None else None,
            key.app_id if key is not None else _app_id(principal),
            request.method[:10],
            request.get_full_path()[:500],
            match.route if match is not None else None,
            response.status_code,
            round((time.perf_counter() - started) * 1000, 2),
            getattr(request, "correlation_id", "")[:100],
            response.status_code == 429,
            timezone.now(),
        )
        mode = settings.API_USAGE_FLUSH
        with _lock:
            _buffer.append(row)
            if len(_buffer) > MAX_BUFFER:
                del _buffer[: len(_buffer) - MAX_BUFFER]
            full = len(_buffer) >= FLUSH_ROWS
        if mode == "sync":
            usage_flush()
        elif mode == "background":
            _ensure_thread()
            if full:
                _wake.set()
    except Exception:  # counting is never worth a failed request
        logger.exception("API usage: could not record a request")


def _app_id(principal: object) -> int | None:
    """The app of a credential that is not an API key (an OAuth token), when the principal names one."""
    app = getattr(principal, "app", None)
    return getattr(principal, "app_id", None) or (app.pk if app is not None else None)


@lru_cache(maxsize=512)
def _endpoint_of_route(route: str) -> str:
    """``api/v1/events/<int:event_id>`` → ``/api/v1/events/{event_id}``."""
    return "/" + _PARAM.sub(r"{\1}", route)


def _endpoint(route: str | None, path: str) -> str:
    """The route template; for a request refused before routing (429) it is looked up now. Unknown URL: ''."""
    if route is None:
        try:
            route = resolve(path.split("?", 1)[0]).route
        except Resolver404:
            return ""
    return _endpoint_of_route(route)[:200]


def usage_flush() -> int:
    """Write the buffered rows; returns how many were written (0 when the write failed: they are kept)."""
    with _lock:
        rows = _buffer[:]
        _buffer.clear()
    if not rows:
        return 0
    try:
        _insert(rows)
    except Exception:
        logger.exception("API usage: could not write %d request rows; will retry", len(rows))
        with _lock:
            _buffer[:0] = rows[-(MAX_BUFFER - len(_buffer)) :] if len(_buffer) < MAX_BUFFER else []
        return 0
    return len(rows)


#: ApiRequest's fields in the order of a buffered row (endpoint computed from the route)
_FIELDS = (
    "organization", "credential_id", "api_key", "app", "method", "path", "endpoint", "status", "duration_ms",
    "correlation_id", "rate_limited", "created_at",
)  # fmt: skip


def _insert(rows: list[Row]) -> None:
    """Multi-row INSERTs (a few statements per flush): a fraction of what building model instances for
    bulk_create costs, which matters because the flusher shares its worker's GIL with the requests."""
    ops = connection.ops
    columns = ", ".join(ops.quote_name(ApiRequest._meta.get_field(name).column) for name in _FIELDS)
    head = f"INSERT INTO {ops.quote_name(ApiRequest._meta.db_table)} ({columns}) VALUES "  # noqa: S608 - model identifiers
    one = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
    per_statement = min(500, (connection.features.max_query_params or 10_000) // len(_FIELDS))
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint inside a transaction (tests): a failure stays here
        for i in range(0, len(rows), per_statement):
            chunk = rows[i : i + per_statement]
            params = [
                value
                for (org_id, credential_id, key_id, app_id, method, path, route, status, duration_ms, correlation_id,
                     rate_limited, created_at) in chunk
                for value in (org_id, credential_id, key_id, app_id, method, path, _endpoint(route, path), status,
                              duration_ms, correlation_id, rate_limited, ops.adapt_datetimefield_value(created_at))
            ]  # fmt: skip
            cursor.execute(head + ", ".join([one] * len(chunk)), params)


def usage_discard() -> None:
    """Forget the rows not written yet (tests)."""
    with _lock:
        _buffer.clear()


def usage_prune(*, now: datetime | None = None) -> int:
    """Delete the rows older than ``RETENTION``; returns how many went."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = ApiRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _maybe_prune() -> None:
    global _last_prune  # one timestamp per process
    if time.monotonic() - _last_prune < PRUNE_EVERY:
        return
    _last_prune = time.monotonic()
    if cache.add("usage:prune", 1, PRUNE_EVERY):  # one process of the deployment prunes each hour (with Redis)
        usage_prune()


def _run() -> None:
    while True:
        _wake.wait(FLUSH_SECONDS)
        _wake.clear()
        try:
            close_old_connections()  # this thread's own connection: drop it when broken or too old
            usage_flush()
            _maybe_prune()
        except Exception:
            logger.exception("API usage: the flusher failed")
            connection.close()


def _ensure_thread() -> None:
    global _thread  # one flusher per process
    if _thread is not None and _thread.is_alive():
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="api-usage-flusher", daemon=True)
            _thread.start()


def _after_fork() -> None:
    """A forked worker (gunicorn) starts with an empty buffer and no flusher: its parent's rows are the parent's."""
    global _thread, _lock
    _buffer.clear()
    _thread = None
    _lock = threading.Lock()


def _at_exit() -> None:
    # "manual" leaves writing to whoever calls usage_flush() (tests: their database is gone by now)
    if settings.configured and _buffer and settings.API_USAGE_FLUSH == "background":
        try:
            usage_flush()
        except Exception:  # the interpreter is going away: nothing more to do
            logger.exception("API usage: could not write the last rows")


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_at_exit)


# --- Reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    buckets: int
    unit: str  # "hour" or "day"

    def starts(self, now: datetime) -> list[datetime]:
        """The buckets' start times (UTC), oldest first; the last one holds ``now``."""
        now = now.astimezone(UTC)
        step = timedelta(hours=1) if self.unit == "hour" else timedelta(days=1)
        last = now.replace(minute=0, second=0, microsecond=0)
        if self.unit == "day":
            last = last.replace(hour=0)
        return [last - step * (self.buckets - 1 - i) for i in range(self.buckets)]


PERIODS = {
    "24h": Period("24h", "Last 24 hours", 24, "hour"),
    "7d": Period("7d", "Last 7 days", 7, "day"),
    "30d": Period("30d", "Last 30 days", 30, "day"),
}
DEFAULT_PERIOD = "7d"


class _P95(Aggregate):
    """PostgreSQL's 95th percentile (linear interpolation, like ``percentile`` below)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.95) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def percentile(values: list[float], fraction: float = 0.95) -> float | None:
    """The ``fraction`` percentile of sorted ``values`` with linear interpolation (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    pos = (len(values) - 1) * fraction
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def usage_requests(
    *, org: Organization, app_id: int | None = None, api_key_id: int | None = None, since: datetime | None = None
) -> QuerySet[ApiRequest]:
    """The organization's recorded requests, newest first, narrowed to one app and/or key and a start time."""
    qs = ApiRequest.objects.for_org(org)
    if app_id is not None:
        qs = qs.filter(app_id=app_id)
    if api_key_id is not None:
        qs = qs.filter(api_key_id=api_key_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs


@dataclass
class Bucket:
    start: datetime
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0
    p95: float | None = None

    @property
    def error_rate(self) -> float | None:
        return 100 * self.errors / self.requests if self.requests else None


@dataclass
class EndpointUsage:
    method: str
    endpoint: str
    requests: int
    errors: int
    p95: float | None

    @property
    def error_rate(self) -> float:
        return 100 * self.errors / self.requests if self.requests else 0.0


@dataclass
class UsageOverview:
    period: Period
    buckets: list[Bucket]
    endpoints: list[EndpointUsage]
    requests: int
    errors: int
    rate_limited: int
    p95: float | None

    @property
    def error_rate(self) -> float | None:
        return 100 * self.errors / self.requests if self.requests else None


def usage_overview(
    *, org: Organization, period: Period, app_id: int | None = None, api_key_id: int | None = None, now: datetime | None = None
) -> UsageOverview:
    """Requests, errors (status >= 400), rate-limit hits and p95 latency per hour/day and per endpoint.

    Counts are aggregated by the database; p95 too on PostgreSQL (percentile_cont), in Python from the
    period's durations elsewhere. The number of queries does not depend on the number of rows."""
    starts = period.starts(now or timezone.now())
    qs = usage_requests(org=org, app_id=app_id, api_key_id=api_key_id, since=starts[0])
    is_error, is_limited = Q(status__gte=400), Q(rate_limited=True)
    on_postgres = connection.vendor == "postgresql"
    p95 = {"p95": _P95("duration_ms")} if on_postgres else {}

    buckets = {start: Bucket(start) for start in starts}
    per_bucket = (
        qs.order_by()
        .annotate(bucket=Trunc("created_at", period.unit, tzinfo=UTC))
        .values("bucket")
        .annotate(n=Count("id"), errors=Count("id", filter=is_error), limited=Count("id", filter=is_limited), **p95)
    )
    for row in per_bucket:
        bucket = buckets.get(row["bucket"])
        if bucket is not None:
            bucket.requests, bucket.errors, bucket.rate_limited = row["n"], row["errors"], row["limited"]
            bucket.p95 = row.get("p95")
    per_endpoint = (
        qs.order_by()
        .values("method", "endpoint")
        .annotate(n=Count("id"), errors=Count("id", filter=is_error), **p95)
        .order_by("-n", "endpoint", "method")
    )
    endpoints = [EndpointUsage(r["method"], r["endpoint"], r["n"], r["errors"], r.get("p95")) for r in per_endpoint]

    if on_postgres:
        overall_p95 = qs.order_by().aggregate(p95=_P95("duration_ms"))["p95"]
    else:
        overall_p95 = _python_p95(qs, period, buckets, endpoints)
    return UsageOverview(
        period=period,
        buckets=list(buckets.values()),
        endpoints=endpoints,
        requests=sum(b.requests for b in buckets.values()),
        errors=sum(b.errors for b in buckets.values()),
        rate_limited=sum(b.rate_limited for b in buckets.values()),
        p95=overall_p95,
    )


def _python_p95(qs: QuerySet[ApiRequest], period: Period, buckets: dict, endpoints: list[EndpointUsage]) -> float | None:
    """Fill in the p95 of each bucket and endpoint from the period's durations (one query); returns the overall one."""
    by_bucket: dict[datetime, list[float]] = defaultdict(list)
    by_endpoint: dict[tuple[str, str], list[float]] = defaultdict(list)
    every = []
    for created_at, method, endpoint, duration in qs.order_by().values_list("created_at", "method", "endpoint", "duration_ms"):
        start = created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if period.unit == "day":
            start = start.replace(hour=0)
        by_bucket[start].append(duration)
        by_endpoint[(method, endpoint)].append(duration)
        every.append(duration)
    for start, durations in by_bucket.items():
        if start in buckets:
            buckets[start].p95 = percentile(sorted(durations))
    for usage in endpoints:
        usage.p95 = percentile(sorted(by_endpoint[(usage.method, usage.endpoint)]))
    return percentile(sorted(every))


def usage_search(qs: QuerySet[ApiRequest], query: str) -> QuerySet[ApiRequest]:
    """Narrow to a status (``404``, ``4xx``), or a path or correlation id containing ``query``."""
    query = query.strip()
    if not query:
        return qs
    if re.fullmatch(r"[1-5]\d\d", query):
        return qs.filter(status=int(query))
    if re.fullmatch(r"[1-5]xx", query, re.IGNORECASE):
        first = int(query[0]) * 100
        return qs.filter(status__gte=first, status__lt=first + 100)
    return qs.filter(Q(path__icontains=query) | Q(correlation_id__icontains=query))


def usage_recent(
    *, org: Organization, app_id: int | None = None, api_key_id: int | None = None, since: datetime | None = None, query: str = ""
) -> list[ApiRequest]:
    """The last ``RECENT_LIMIT`` requests matching the filters and the search, newest first, with their key."""
    qs = usage_requests(org=org, app_id=app_id, api_key_id=api_key_id, since=since)
    return list(usage_search(qs, query).select_related("api_key")[:RECENT_LIMIT])
