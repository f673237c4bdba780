"""API list speed: the two big collections against the cheapest JSON view Django serves, in one run.

Starts gunicorn on loopback against a database of its own (SQLite, PostgreSQL, or each in turn), seeds one
organization with EVENTS published events (two ticket types each) and REGISTRATIONS registrations, creates a
real API key, then measures, CONCURRENCY connections at a time for DURATION seconds each:

    bare      GET /bench/json                          a Django JsonResponse, no database (CONVENE_BENCH=1 only)
    events    GET /api/v1/events?pageSize=50           through the whole API stack (key, rate limit, ETag...)
    regs      GET /api/v1/registrations?pageSize=50

and prints requests/s, p50/p95/p99 and each list's share of the bare view's requests/s. The API's rate limits
are multiplied for the run (CONVENE_BENCH_RATE_SCALE), so the limiter's work is measured but never refuses.

    .venv/bin/python bench/api.py                       # SQLite, then PostgreSQL
    .venv/bin/python bench/api.py --sqlite              # only SQLite (no server needed)
    .venv/bin/python bench/api.py --postgres -d 15 -c 8
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
    args = p.parse_args()
    if args.concurrency < 1 or args.duration <= 0 or args.events < 1 or args.registrations < 0:
        p.error("--concurrency, --duration and --events must be positive, --registrations not negative")
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


def measure(pool, base: str, path: str, headers: dict[str, str], args: argparse.Namespace) -> dict:
    pool.map(_client, [(base, path, headers, time.time(), time.time() + 1.0)] * args.concurrency)  # warm-up
    start_at = time.time() + 0.5
    jobs = [(base, path, headers, start_at, start_at + args.duration)] * args.concurrency
    results = pool.map(_client, jobs)
    latencies = sorted(lat for r in results for lat in r[0])
    return {
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
    proc, base = start_gunicorn(env, args)
    auth = {"Authorization": f"Bearer {secret}"}
    figures = {}
    try:
        with multiprocessing.get_context("fork").Pool(args.concurrency) as pool:
            for name, path in TARGETS:
                figures[name] = measure(pool, base, path, auth if path.startswith("/api/") else {}, args)
    finally:
        stop(proc)

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
    return ok


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
