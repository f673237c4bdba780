"""Registration throughput: many people submitting the public registration form at once.

Starts gunicorn on loopback against a fresh PostgreSQL database (or targets a running server with --url),
creates an organization with a published event whose ticket type has CAPACITY seats, then N clients'
worth of registrations arrive over HTTP at the public form, CONCURRENCY at a time. Each client first
GETs the public page (CSRF cookie and token), as a browser would, then POSTs the form with distinct
e-mails. Prints throughput, latency percentiles, how many were confirmed against the capacity, how many
were told "sold out", and whether the database holds more registrations than seats (OVERSOLD).

    .venv/bin/python bench/registrations.py                 # N=1000, capacity 800, 16 concurrent clients
    .venv/bin/python bench/registrations.py -n 2000 -c 32 --worker-class gthread --workers 4 --threads 2
    DATABASE_URL=postgres://... .venv/bin/python bench/registrations.py --url http://127.0.0.1:8000

Without --url, DATABASE_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
and the benchmark (re)creates the database --database (default convene_bench) on it. With --url,
DATABASE_URL must be the database that server uses (the event is created there, and counted there).
Exit status: 0, or 1 when seats were oversold or requests failed.
"""

from __future__ import annotations

import argparse
import fcntl
import http.client
import itertools
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--requests", type=int, default=1000, help="registrations to submit (default 1000)")
    p.add_argument("-c", "--concurrency", type=int, default=16, help="clients submitting at the same time (default 16)")
    p.add_argument("--capacity", type=int, default=800, help="seats of the ticket type (default 800)")
    p.add_argument("--url", help="benchmark this running server instead of starting gunicorn")
    p.add_argument("--database", default="convene_bench", help="database to (re)create when starting gunicorn")
    # Measured on 2 cores: 6 sync workers gave the best throughput and the tightest p95; gthread with
    # 5-6 workers x 1-2 threads came close; more threads per worker only add GIL contention.
    p.add_argument("--workers", type=int, default=6, help="gunicorn worker processes (default 6)")
    p.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default 1)")
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync; gthread for keep-alive)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a single request may take (default 30)")
    args = p.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.capacity < 0:
        p.error("--requests and --concurrency must be positive, --capacity not negative")
    return args


# --- Database and server ------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def recreate_database(server_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        sys.exit(f"--database must be a plain lower-case name, not {name!r}")
    # Connect to the database the URL names (or "postgres"), never to the one about to be dropped.
    maintenance = urlsplit(server_url).path.lstrip("/")
    if maintenance in ("", name):
        maintenance = "postgres"
    with psycopg.connect(with_database(server_url, maintenance), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict[str, str], args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    port = free_port()
    gunicorn = Path(PYTHON).with_name("gunicorn")
    cmd = [
        str(gunicorn), "portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--worker-class", args.worker_class, "--workers", str(args.workers), "--threads", str(args.threads),
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    sys.exit("gunicorn did not answer /health within 60 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def setup_django(database_url: str) -> None:
    os.environ.update(server_env(database_url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_event(capacity: int) -> tuple[str, str, int]:
    """A published event with one free ticket type of ``capacity`` seats: (org slug, event slug, ticket type id)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connections
    from django.utils import timezone

    from accounts.models import Organization
    from events import services

    stamp = time.strftime("%Y%m%d%H%M%S")
    org = Organization.objects.create(name=f"Bench {stamp}", slug=f"bench-{stamp}-{secrets.token_hex(2)}")
    starts = timezone.now().replace(microsecond=0) + timedelta(days=30)
    event = services.event_create(
        org=org, actor=None, title="Registration rush", starts_at=starts, ends_at=starts + timedelta(hours=8),
        timezone="UTC", venue_name="Main hall", venue_address="1 Main St", online_url="",
    )  # fmt: skip
    tt = services.ticket_type_create(
        org=org, actor=None, event_id=event.pk, name="General", price=Decimal("0"), currency="EUR", capacity=capacity
    )
    services.event_publish(org=org, actor=None, event_id=event.pk)
    connections.close_all()
    return org.slug, event.slug, tt.pk


def count_seats(ticket_type_id: int) -> tuple[int, int]:
    """(active registrations, distinct e-mails among them) for the ticket type, read from the database."""
    from django.db import connections

    from events.models import Registration

    active = Registration.objects.filter(ticket_type_id=ticket_type_id).active()
    counts = active.count(), active.values("email").distinct().count()
    connections.close_all()
    return counts


# --- Load ---------------------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    client_cpu: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: str, seconds: float) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            self.latencies.append(seconds)


class Client:
    """One attendee's browser: a keep-alive connection, a CSRF cookie and the form's token."""

    def __init__(self, base: str, path: str, timeout: float) -> None:
        parts = urlsplit(base)
        self.host, self.port, self.path, self.timeout = parts.hostname, parts.port or 80, path, timeout
        self.conn = self._connect()
        status, headers, body = self._send("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        cookie = SimpleCookie()
        for header in headers.get_all("Set-Cookie") or []:
            cookie.load(header)
        token = CSRF_INPUT.search(body)
        if "csrftoken" not in cookie or token is None:
            raise RuntimeError("the public page gave no CSRF cookie or token")
        self.cookie, self.token = cookie["csrftoken"].value, token.group(1)

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _send(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response.status, response.headers, response.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect and send again. Safe for the
                # registration POST too: a retry with the same e-mail gets the same registration.
                self.conn.close()
                self.conn = self._connect()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def register(self, email: str, ticket_type_id: int) -> tuple[str, float]:
        body = urlencode(
            {"csrfmiddlewaretoken": self.token, "name": "Bench Attendee", "email": email, "ticket_type": ticket_type_id}
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={self.cookie}"}
        started = time.perf_counter()
        status, headers_in, text = self._send("POST", self.path, body, headers)
        elapsed = time.perf_counter() - started
        if status == 303 and "/registered/" in (headers_in.get("Location") or ""):
            return "confirmed", elapsed
        if status == 200 and "sold out" in text.lower():
            return "sold_out", elapsed
        if status == 409:
            return "busy", elapsed
        return f"http_{status}", elapsed


def fire(base: str, path: str, ticket_type_id: int, args: argparse.Namespace) -> tuple[Results, float]:
    results = Results()
    numbers = itertools.count()
    take = threading.Lock()
    run_id = secrets.token_hex(3)
    clients = [Client(base, path, args.timeout) for _ in range(args.concurrency)]  # GETs: CSRF, warm-up
    start = threading.Barrier(args.concurrency + 1)

    def worker(client: Client) -> None:
        start.wait()
        while True:
            with take:
                i = next(numbers)
            if i >= args.requests:
                return
            try:
                outcome, seconds = client.register(f"bench-{run_id}-{i}@example.com", ticket_type_id)
            except OSError as exc:
                with results.lock:
                    results.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            results.record(outcome, seconds)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    start.wait()
    began, cpu_before = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    results.client_cpu = time.process_time() - cpu_before
    for c in clients:
        c.conn.close()
    return results, elapsed


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(pct / 100 * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def one_at_a_time() -> object:
    """Hold a lock while benchmarking: two runs at once would share the CPU (and the database)."""
    (ROOT / "var").mkdir(exist_ok=True)
    lock = (ROOT / "var" / "bench.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("Another benchmark is running: waiting for it to finish...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def main() -> int:
    args = parse_args()
    _lock = one_at_a_time()
    proc = None
    if args.url:
        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url.startswith(("postgres://", "postgresql://")):
            sys.exit("--url needs DATABASE_URL: the PostgreSQL database that server uses")
        base = args.url.rstrip("/")
        server = f"{base} (given)"
    else:
        server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
        if not server_url.startswith(("postgres://", "postgresql://")):
            sys.exit("DATABASE_URL must name a PostgreSQL server: the benchmark measures the scale-out set-up")
        database_url = recreate_database(server_url, args.database)
        env = server_env(database_url)
        print(f"Preparing database {args.database} (migrate, collectstatic)...", flush=True)
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    setup_django(database_url)
    org_slug, event_slug, ticket_type_id = create_event(args.capacity)
    path = f"/e/{org_slug}/{event_slug}/"
    try:
        if not args.url:
            proc, base = start_gunicorn(env, args)
            threads = f" x {args.threads} threads" if args.threads > 1 else ""
            server = f"gunicorn {args.worker_class}, {args.workers} workers{threads} at {base}"
        print(f"Firing {args.requests} registrations at {base}{path}, {args.concurrency} at a time...", flush=True)
        results, elapsed = fire(base, path, ticket_type_id, args)
    finally:
        if proc is not None:
            stop(proc)

    seats_taken, distinct = count_seats(ticket_type_id)
    lat = sorted(results.latencies)
    answered = len(lat)
    out = results.outcomes
    errors = len(results.failures) + sum(n for k, n in out.items() if k.startswith("http_"))
    oversold = seats_taken > args.capacity or distinct != seats_taken

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    print()
    print("Convene registration benchmark (public form over HTTP)")
    print(f"  server            {server}; database {urlsplit(database_url).path.lstrip('/')}")
    print(f"  load              {args.requests} POSTs, {args.concurrency} concurrent clients, capacity {args.capacity}")
    print(f"  elapsed           {elapsed:.2f} s (the load generator itself used {results.client_cpu:.1f} s of CPU)")
    print(f"  registrations/s   {answered / elapsed:.1f} (answered registration requests per second)")
    print(f"  confirmed/s       {out['confirmed'] / elapsed:.1f}")
    print(f"  latency           p50 {ms(percentile(lat, 50))}  p95 {ms(percentile(lat, 95))}  p99 {ms(percentile(lat, 99))}"
          f"  max {ms(lat[-1]) if lat else '-'}")  # fmt: skip
    print(f"  confirmed         {out['confirmed']} answered, {seats_taken} in the database, capacity {args.capacity}")
    print(f"  sold out answers  {out['sold_out']}")
    print(f"  busy answers      {out['busy']}")
    by_status = {k: n for k, n in out.items() if k.startswith("http_")}
    print(f"  errors            {errors}" + (f" {by_status}" if by_status else ""))
    for failure in results.failures[:5]:
        print(f"    {failure}")
    print(f"OVERSOLD: {'yes' if oversold else 'no'}")
    return 1 if oversold or errors else 0


if __name__ == "__main__":
    sys.exit(main())
