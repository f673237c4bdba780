"""API list speed: the two big collections against the cheapest JSON view Django serves, in one run.

Starts gunicorn on loopback against a database of its own (SQLite, PostgreSQL, or each in turn), seeds one
organization with EVENTS published events (two ticket types each) and REGISTRATIONS registrations, creates a
real API key, then measures, CONCURRENCY connections at a time for DURATION seconds each:

    bare      GET /bench/json                          a Django JsonResponse, no database (CONVENE_BENCH=1 only)
    events    GET /api/v1/events?pageSize=50           through the whole API stack (key, rate limit, ETag...)
    regs      GET /api/v1/registrations?pageSize=50

and prints requests/s, p50/p95/p99 and each list's share of the bare view's requests/s. The API's rate limits
are multiplied for the run (CONVENE_BENCH_RATE_SCALE), so the limiter's work is measured but never refuses.

--usage-compare measures what counting each request for the usage pages costs: the lists are loaded on a fresh
server with API_USAGE=0, then with API_USAGE=1 (the default), then the other way round (--rounds pairs), and
req/s and p95 with and without are printed with the difference.

    .venv/bin/python bench/api.py                       # SQLite, then PostgreSQL
    .venv/bin/python bench/api.py --sqlite              # only SQLite (no server needed)
    .venv/bin/python bench/api.py --postgres -d 15 -c 8
    .venv/bin/python bench/api.py --sqlite --usage-compare   # the cost of usage counting
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/api.py   # cache and rate limits on Redis

DATABASE_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres); the benchmark
(re)creates the database --database (default convene_bench_api) on it. SQLite uses var/bench_api.sqlite3.
Exit status: 0, or 1 when requests failed or a goal was missed (each list >= 35 % of bare, p95 < 25 ms).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registrations import (  # the benchmark next door owns the gunicorn and database plumbing
    DEFAULT_SERVER,
    ROOT,
    manage,
    one_at_a_time,
    percentile,
    recreate_database,
    server_env,
    setup_django,
    start_gunicorn,
    stop,
)

GOAL_SHARE, GOAL_P95_MS = 0.35, 25.0
TARGETS = [
    ("bare", "/bench/json"),
    ("events", "/api/v1/events?pageSize=50"),
    ("regs", "/api/v1/registrations?pageSize=50"),
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--sqlite", action="store_true", help="only SQLite")
    which.add_argument("--postgres", action="store_true", help="only PostgreSQL")
    p.add_argument("-c", "--concurrency", type=int, default=8, help="connections at the same time (default 8)")
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds of load per target (default 10)")
    p.add_argument("--events", type=int, default=120, help="published events to seed (default 120)")
    p.add_argument("--registrations", type=int, default=10_000, help="registrations to seed (default 10000)")
    p.add_argument("--database", default="convene_bench_api", help="PostgreSQL database to (re)create")
    # 2 cores: sync workers, 2 per core, did best (keep-alive would need gthread, which loses to the GIL here)
    p.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    p.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default 1)")
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    p.add_argument("--usage-compare", action="store_true", help="measure the API lists with and without usage counting")
    p.add_argument("--rounds", type=int, default=2, help="with --usage-compare: pairs of runs per list (default 2)")
    args = p.parse_args()
    if args.concurrency < 1 or args.duration <= 0 or args.events < 1 or args.registrations < 0 or args.rounds < 1:
        p.error("--concurrency, --duration, --events and --rounds must be positive, --registrations not negative")
    return args


# --- Data ---------------------------------------------------------------------------------------------


def seed(n_events: int, n_registrations: int) -> str:
    """One organization's events and registrations, and an API key that reads them: returns the key."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection, connections, transaction
    from django.utils import timezone

    from accounts.models import Organization
    from accounts.services import api_key_create
    from events.models import Event, EventStatus, Registration, RegistrationStatus, TicketType

    now = timezone.now().replace(microsecond=0)
    stamp = time.strftime("%Y%m%d%H%M%S")
    org = Organization.objects.create(name=f"API bench {stamp}", slug=f"api-bench-{stamp}-{secrets.token_hex(2)}")
    with transaction.atomic():
        events = Event.objects.bulk_create(
            Event(
                organization=org, title=f"Conference {i}", slug=f"conference-{i}", description="A day of talks. " * 8,
                status=EventStatus.PUBLISHED, venue_name="Main hall", venue_address="1 Main St", timezone="Europe/Berlin",
                starts_at=now + timedelta(days=i + 1), ends_at=now + timedelta(days=i + 1, hours=8), published_at=now,
            )
            for i in range(n_events)
        )  # fmt: skip
        types = TicketType.objects.bulk_create(
            TicketType(organization=org, event=e, name=name, price=Decimal(price), currency="EUR", capacity=cap, position=pos)
            for e in events
            for pos, (name, price, cap) in enumerate([("General", "0", 500), ("Supporter", "50", None)])
        )
        statuses = [RegistrationStatus.CONFIRMED] * 8 + [RegistrationStatus.PENDING_PAYMENT, RegistrationStatus.CANCELLED]
        Registration.objects.bulk_create(
            (
                Registration(
                    organization=org, event_id=types[i % len(types)].event_id, ticket_type=types[i % len(types)],
                    name=f"Attendee {i}", email=f"attendee{i}@example.com", status=statuses[i % len(statuses)],
                    created_at=now - timedelta(seconds=n_registrations - i), confirmed_at=now,
                )
                for i in range(n_registrations)
            ),
            batch_size=1000,
        )  # fmt: skip
    _key, secret = api_key_create(
        org=org, actor=None, name="bench", scopes=["events:read", "registrations:read"], tier="internal"
    )
    with connection.cursor() as cursor:  # fresh planner statistics, as a live database has them
        cursor.execute("ANALYZE")
    connections.close_all()
    return secret


# --- Load ---------------------------------------------------------------------------------------------


def _client(job: tuple[str, str, dict[str, str], float, float]) -> tuple[list[float], int, int]:
    """One connection's loop until ``stop_at``: (latencies of 200 answers, other statuses, failures)."""
    base, path, headers, start_at, stop_at = job
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies, bad, failed = [], 0, 0
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        began = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            failed += 1
            continue
        elapsed = time.perf_counter() - began
        if response.status == 200:
            latencies.append(elapsed)
        else:
            bad += 1
    conn.close()
    return latencies, bad, failed


def cpu_seconds(group: int) -> float:
    """CPU time (user + system) used so far by the processes of a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process went away meanwhile
            continue
        if int(fields[2]) == group:  # pgrp; then utime and stime, in clock ticks
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure(pool, base: str, path: str, headers: dict[str, str], args: argparse.Namespace, server: int | None = None) -> dict:
    """Load ``path``; with ``server`` (gunicorn's process group) also the server's CPU time per answered request."""
    pool.map(_client, [(base, path, headers, time.time(), time.time() + 1.0)] * args.concurrency)  # warm-up
    start_at = time.time() + 0.5
    jobs = [(base, path, headers, start_at, start_at + args.duration)] * args.concurrency
    cpu_before = cpu_seconds(server) if server else 0.0
    results = pool.map(_client, jobs)
    cpu = cpu_seconds(server) - cpu_before if server else 0.0
    latencies = sorted(lat for r in results for lat in r[0])
    answered = len(latencies) + sum(r[1] for r in results)
    return {
        "cpu_ms": 1000 * cpu / answered if answered else 0.0,
        "rps": len(latencies) / args.duration,
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "ok": len(latencies),
        "bad": sum(r[1] for r in results),
        "failed": sum(r[2] for r in results),
    }


def run(database: str, database_url: str, args: argparse.Namespace) -> bool:
    env = server_env(database_url)
    env.update(CONVENE_BENCH="1", CONVENE_BENCH_RATE_SCALE="10000")
    print(f"\n[{database}] preparing the database (migrate, collectstatic, seed)...", flush=True)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    os.environ.update(CONVENE_BENCH="1")
    setup_django(database_url)
    secret = seed(args.events, args.registrations)
    auth = {"Authorization": f"Bearer {secret}"}
    figures, without = {}, {}
    with multiprocessing.get_context("fork").Pool(args.concurrency) as pool:
        if not args.usage_compare:
            figures = serve_and_measure(pool, env, TARGETS, auth, args, usage=True)
        else:
            # A fresh server per run, with and without counting in turn (without, with, with, without, ...):
            # neither setting gets the better server nor the quieter minute of a busy machine.
            figures = serve_and_measure(pool, env, TARGETS[:1], auth, args, usage=True)
            runs: dict[bool, list[dict]] = {True: [], False: []}
            for i in range(args.rounds):
                for usage in (False, True) if i % 2 == 0 else (True, False):
                    runs[usage].append(serve_and_measure(pool, env, TARGETS[1:], auth, args, usage=usage))
            for name, _path in TARGETS[1:]:
                figures[name] = _mean([run[name] for run in runs[True]])
                without[name] = _mean([run[name] for run in runs[False]])

    threads = f" x {args.threads} threads" if args.threads > 1 else ""
    print(f"Convene API benchmark: {database}")
    print(f"  server     gunicorn {args.worker_class}, {args.workers} workers{threads}; cache {env_cache(env)}")
    print(f"  data       {args.events} events (2 ticket types each), {args.registrations} registrations")
    print(f"  load       {args.concurrency} connections, {args.duration:.0f} s per target")
    bare = figures["bare"]["rps"]
    ok = True
    for name, path in TARGETS:
        f = figures[name]
        share = f["rps"] / bare if bare else 0.0
        goal = ""
        if name != "bare":
            met = share >= GOAL_SHARE and f["p95"] < GOAL_P95_MS
            ok &= met
            goal = f"  {share:5.0%} of bare  {'ok' if met else 'MISSED'}"
        errors = f"  errors {f['bad'] + f['failed']}" if f["bad"] or f["failed"] else ""
        ok &= not (f["bad"] or f["failed"])
        print(
            f"  {name:7}{f['rps']:8.1f} req/s  p50 {f['p50']:5.1f} ms  p95 {f['p95']:5.1f} ms  p99 {f['p99']:5.1f} ms"
            f"{goal}{errors}   {path}"
        )
    if without:
        print_usage_difference(figures, without, secret, args)
    return ok


def serve_and_measure(pool, env: dict[str, str], targets: list, auth: dict, args: argparse.Namespace, *, usage: bool) -> dict:
    """Start gunicorn (API usage counting on or off), load each target in turn, stop it: figures per target."""
    proc, base = start_gunicorn(dict(env, API_USAGE="1" if usage else "0"), args)
    try:
        return {
            name: measure(pool, base, path, auth if path.startswith("/api/") else {}, args, server=proc.pid)
            for name, path in targets
        }
    finally:
        stop(proc)


def _mean(runs: list[dict]) -> dict:
    """The runs' figures averaged (req/s and percentiles), their counts summed."""
    mean = {k: sum(r[k] for r in runs) / len(runs) for k in ("rps", "p50", "p95", "p99", "cpu_ms")}
    return mean | {k: sum(r[k] for r in runs) for k in ("ok", "bad", "failed")}


def print_usage_difference(with_usage: dict, without: dict, secret: str, args: argparse.Namespace) -> None:
    from django.db import connections

    from accounts.models import ApiRequest

    recorded = ApiRequest.objects.count()  # written by the servers' flushers, the last rows when they stopped
    connections.close_all()
    print(f"  usage counting: with vs without ({args.rounds} pair(s) of fresh servers, {args.duration:.0f} s per list each)")
    for name, path in TARGETS:
        if name not in without:
            continue
        on, off = with_usage[name], without[name]
        rps_change = (on["rps"] - off["rps"]) / off["rps"] if off["rps"] else 0.0
        cpu_change = (on["cpu_ms"] - off["cpu_ms"]) / off["cpu_ms"] if off["cpu_ms"] else 0.0
        print(
            f"  {name:7}with {on['rps']:7.1f} req/s  p95 {on['p95']:5.1f} ms  CPU {on['cpu_ms']:.2f} ms/req   "
            f"without {off['rps']:7.1f} req/s  p95 {off['p95']:5.1f} ms  CPU {off['cpu_ms']:.2f} ms/req   {path}\n"
            f"  {'':7}difference {rps_change:+6.1%} req/s, {on['p95'] - off['p95']:+5.1f} ms p95, "
            f"{cpu_change:+6.1%} server CPU per request ({on['cpu_ms'] - off['cpu_ms']:+.3f} ms)"
        )
    answered = sum(with_usage[name]["ok"] + with_usage[name]["bad"] for name in without)
    print(f"  rows recorded by usage counting: {recorded} (measured requests answered with counting on: {answered})")
    record_us, write_us = usage_cost(secret)
    print(
        f"  counting in one process: {record_us:.1f} us per request to record (in the request), {write_us:.1f} us per row"
        f" to write (the flusher, batches of 200)"
    )
    print("  (CPU time is that of the gunicorn processes, the flusher's thread included, not the database server's;")
    print("   on a busy machine every figure here moves from run to run, even between two identical servers)")


def usage_cost(secret: str, n: int = 4000) -> tuple[float, float]:
    """What counting costs where it runs, timed in this process: (µs to record a request, µs to write a row)."""
    from django.conf import settings
    from django.db import connections
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from accounts.models import ApiRequest
    from portal import usage
    from portal.api.auth import principal_from_bearer

    settings.API_USAGE_FLUSH = "manual"
    principal = principal_from_bearer(secret)
    request = RequestFactory().get("/api/v1/events?pageSize=50")
    request.resolver_match, request.correlation_id = resolve("/api/v1/events"), "bench"
    response = HttpResponse()
    recording = writing = 0.0
    for _ in range(n // 200):
        began = time.perf_counter()
        for _ in range(200):
            usage.usage_record(request=request, response=response, principal=principal, started=began)
        flushing = time.perf_counter()
        usage.usage_flush()
        recording, writing = recording + flushing - began, writing + time.perf_counter() - flushing
    ApiRequest.objects.filter(correlation_id="bench").delete()
    connections.close_all()
    return recording / n * 1e6, writing / n * 1e6


def env_cache(env: dict[str, str]) -> str:
    return f"Redis {env['REDIS_URL']}" if env.get("REDIS_URL") else "local memory (per worker)"


def main() -> int:
    args = parse_args()
    _lock = one_at_a_time()
    databases = []
    if not args.postgres:
        path = ROOT / "var" / "bench_api.sqlite3"
        path.unlink(missing_ok=True)
        databases.append(("SQLite", f"sqlite:///{path}"))
    if not args.sqlite:
        server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
        if not server_url.startswith(("postgres://", "postgresql://")):
            sys.exit("DATABASE_URL must name a PostgreSQL server (or pass --sqlite)")
        databases.append(("PostgreSQL", recreate_database(server_url, args.database)))
    ok = True
    for label, url in databases:
        # each database gets its own process: Django is set up once per process
        ctx = multiprocessing.get_context("fork")
        child = ctx.Process(target=_run_child, args=(label, url, args))
        child.start()
        child.join()
        ok &= child.exitcode == 0
    print(f"\nGOALS (each list >= {GOAL_SHARE:.0%} of bare req/s, p95 < {GOAL_P95_MS:.0f} ms): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def _run_child(label: str, url: str, args: argparse.Namespace) -> None:
    sys.exit(0 if run(label, url, args) else 1)


if __name__ == "__main__":
    sys.exit(main())
