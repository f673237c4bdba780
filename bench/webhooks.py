"""Webhook delivery throughput: changes committed through the outbox, delivered by two worker clusters.

Creates a fresh PostgreSQL database, an organization with an event and one webhook endpoint (or --endpoints)
pointing at a receiver in this process (a threaded HTTP/1.1 server on loopback that answers 200 at once and
notes when each message arrived), and starts two `manage.py qcluster` processes on a Redis broker. Then N
changes are committed, each in its own transaction ending with `outbox_publish` (the event's snapshot, as
every service ends; --via service runs the whole `ticket_type_update` service instead), by --producers
threads at --rate changes per second in all (0: as fast as they go). Every commit is fanned out and sent
by the clusters exactly as in production (fan-out task, claim with SKIP LOCKED, sends over kept-alive
connections, attempts recorded in bulk).

Prints deliveries per second (from the first commit to the last message received), the latency from each
commit to the receipt of its message (p50, p95, p99, max), the CPU time the clusters used, and checks both
sides: every delivery received exactly once (by webhook-id and endpoint), and in the database every
delivery succeeded with one attempt.

    .venv/bin/python bench/webhooks.py                       # N=2000, 1 endpoint, 400 changes/s offered
    .venv/bin/python bench/webhooks.py --rate 0              # as fast as the producers can commit
    .venv/bin/python bench/webhooks.py --via service --rate 0
    .venv/bin/python bench/webhooks.py -n 1000 --endpoints 3 --q-workers 3

DATABASE_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres); the
benchmark (re)creates the database --database (default convene_bench_webhooks) on it. REDIS_URL is the
broker (default redis://127.0.0.1:6379/0); only the queue's own list is emptied at the start.
Exit status: 0, or 1 when a delivery was lost, doubled or not acknowledged in the database.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# the sibling benchmark's helpers: database, lock, percentiles
from registrations import (
    DEFAULT_SERVER,
    ROOT,
    one_at_a_time,
    percentile,
    recreate_database,
    server_env,
)

PYTHON = sys.executable
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--events", type=int, default=2000, help="changes to commit, one event each (default 2000)")
    p.add_argument("--endpoints", type=int, default=1, help="webhook endpoints subscribed to them (default 1)")
    p.add_argument("--rate", type=float, default=400, help="changes committed per second; 0: unpaced (default 400)")
    p.add_argument(
        "--via",
        choices=("outbox", "service"),
        default="outbox",
        help="how each change is committed: a transaction with outbox_publish and the event's snapshot, as every "
        "service ends (default), or the whole ticket_type_update service (several times the producer's CPU)",
    )
    p.add_argument("--producers", type=int, default=4, help="threads committing changes (default 4; 1 with --via service)")
    p.add_argument("--clusters", type=int, default=2, help="qcluster processes (default 2)")
    p.add_argument("--q-workers", type=int, default=2, help="worker processes per cluster (default 2)")
    p.add_argument("--database", default="convene_bench_webhooks", help="database to (re)create")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for the last message (default 120)")
    args = p.parse_args()
    if args.via == "service":
        args.producers = 1  # the changes are told apart by their order
    if args.events < 1 or args.endpoints < 1 or args.clusters < 1 or args.q_workers < 1 or args.rate < 0:
        p.error("--events, --endpoints, --clusters and --q-workers must be positive, --rate not negative")
    return args


# --- Receiver -----------------------------------------------------------------------------------------


class Receiver:
    """Loopback webhook receiver: answers 200 at once and records (path, webhook-id) → arrival times."""

    def __init__(self) -> None:
        self.arrivals: dict[tuple[str, str], list[float]] = {}
        self.lock = threading.Lock()
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would offer
            disable_nagle_algorithm = True  # else the answer's body waits for the sender's delayed ACK (40 ms)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.monotonic()
                key = (self.path, self.headers.get("webhook-id", ""))
                with receiver.lock:
                    receiver.arrivals.setdefault(key, []).append(arrived)
                    receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{n}"

    def wait_for(self, count: int, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self.count >= count:
                return True
            time.sleep(0.01)
        return self.count >= count


# --- Set-up -------------------------------------------------------------------------------------------


def worker_env(database_url: str, redis_url: str, q_workers: int) -> dict[str, str]:
    env = server_env(database_url)
    env.update(REDIS_URL=redis_url, Q_WORKERS=str(q_workers), WEBHOOKS_ALLOW_PRIVATE_TARGETS="1")
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(receiver: Receiver, endpoints: int) -> tuple[object, int]:
    """An organization with an event, its ticket type and the endpoints: (organization, ticket type id)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import Organization
    from events import services as events
    from integrations import services as integrations

    stamp = time.strftime("%Y%m%d%H%M%S")
    org = Organization.objects.create(name=f"Bench {stamp}", slug=f"bench-{stamp}-{secrets.token_hex(2)}")
    for n in range(endpoints):
        integrations.webhook_endpoint_create(org=org, actor=None, url=receiver.url(n), event_types=["event.updated"])
    starts = timezone.now().replace(microsecond=0) + timedelta(days=30)
    event = events.event_create(
        org=org, actor=None, title="Webhook rush", starts_at=starts, ends_at=starts + timedelta(hours=8),
        timezone="UTC", venue_name="Main hall", venue_address="1 Main St", online_url="",
    )  # fmt: skip
    tt = events.ticket_type_create(
        org=org, actor=None, event_id=event.pk, name="General", price=Decimal("0"), currency="EUR", capacity=100_000
    )
    return org, tt.pk


def purge_queue(org: object) -> None:
    """Start from an empty queue (a previous run may have left tasks), the organization's set-up not yet fanned out."""
    from django.core.cache import cache
    from django_q.brokers import get_broker

    from integrations.services import FAN_OUT_QUEUED_KEY

    get_broker().purge_queue()
    # the purged fan-out's flag would hold back the next commit's (for a few seconds)
    cache.delete(FAN_OUT_QUEUED_KEY.format(org_id=org.pk))


def settled(org: object) -> bool:
    from integrations.models import DeliveryStatus, OutboxEvent, WebhookDelivery

    return not (
        OutboxEvent.objects.filter(organization=org, dispatched_at__isnull=True).exists()
        or WebhookDelivery.objects.filter(organization=org, status=DeliveryStatus.PENDING).exists()
    )


def start_clusters(env: dict[str, str], count: int, log: Path) -> list[subprocess.Popen]:
    out = log.open("ab")
    return [
        subprocess.Popen(
            [PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        for _ in range(count)
    ]


def cpu_seconds(pgid: int) -> float:
    """CPU time used so far by the live processes of one process group (Linux /proc), in seconds."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (12), stime (13)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- Load ---------------------------------------------------------------------------------------------


def committer(org: object, ticket_type_id: int, via: str) -> Callable[[int], str]:
    """A function committing the i-th change (the whole service, or its outbox write alone); returns the webhook-id."""
    from django.db import transaction

    from events import services as events
    from events.models import TicketType
    from events.snapshots import event_data
    from integrations.models import OutboxEvent
    from integrations.services import outbox_publish

    if via == "service":

        def commit_service(i: int) -> str:
            events.ticket_type_update(org=org, actor=None, ticket_type_id=ticket_type_id, capacity=1000 + i)
            # one producer only (see parse_args): the organization's latest row is this change's
            return OutboxEvent.objects.filter(organization=org).latest("id").public_id

        return commit_service
    snapshot = json.loads(json.dumps(event_data(TicketType.objects.get(pk=ticket_type_id).event), default=str))

    def commit(i: int) -> str:
        with transaction.atomic(durable=True):
            event = outbox_publish(org=org, event_type="event.updated", data={**snapshot, "capacity": 1000 + i})
        return event.public_id

    return commit


def produce(commit: Callable[[int], str], n: int, rate: float, producers: int) -> dict[str, float]:
    """Commit n changes from ``producers`` threads, paced at ``rate`` per second in all (0: unpaced).

    Returns each change's webhook-id with the time its commit returned.
    """
    from django.db import connections

    committed: dict[str, float] = {}
    numbers = itertools.count()
    take = threading.Lock()
    began = time.monotonic()

    def run() -> None:
        try:
            while True:
                with take:
                    i = next(numbers)
                if i >= n:
                    return
                if rate and (wait := began + i / rate - time.monotonic()) > 0:
                    time.sleep(wait)
                webhook_id = commit(i)
                committed[webhook_id] = time.monotonic()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return committed


def outbox_ids(org: object, after: int) -> list[str]:
    """The public ids of the organization's outbox rows after row ``after``, in commit order."""
    from integrations.models import OutboxEvent

    rows = OutboxEvent.objects.filter(organization=org, pk__gt=after).order_by("id")
    return list(rows.values_list("public_id", flat=True))


def last_outbox_row() -> int:
    from django.db.models import Max

    from integrations.models import OutboxEvent

    return OutboxEvent.objects.aggregate(last=Max("id"))["last"] or 0


def database_check(org: object) -> tuple[Counter, Counter]:
    """(deliveries by status, deliveries by number of attempts) for the organization."""
    from django.db.models import Count

    from integrations.models import WebhookDelivery

    deliveries = WebhookDelivery.objects.filter(organization=org)
    by_status = Counter(dict(deliveries.values_list("status").annotate(n=Count("id")).order_by()))
    by_attempts = Counter(n for n in deliveries.annotate(n=Count("attempts")).values_list("n", flat=True))
    return by_status, by_attempts


def main() -> int:
    args = parse_args()
    _lock = one_at_a_time()
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    if not server_url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must name a PostgreSQL server: the benchmark measures the scale-out set-up")
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    database_url = recreate_database(server_url, args.database)
    env = worker_env(database_url, redis_url, args.q_workers)
    print(f"Preparing database {args.database} (migrate)...", flush=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env, check=True)
    setup_django(env)
    from django.db import connections

    receiver = Receiver()
    org, tt_id = prepare(receiver, args.endpoints)
    purge_queue(org)
    log = ROOT / "var" / "bench-webhooks.log"
    log.write_bytes(b"")
    clusters = start_clusters(env, args.clusters, log)
    try:
        # warm-up: one change, received by every endpoint, means the clusters are up and connected
        print(f"Starting {args.clusters} clusters x {args.q_workers} workers (log: {log.relative_to(ROOT)})...", flush=True)
        commit = committer(org, tt_id, args.via)
        commit(-1)
        [warm_up] = outbox_ids(org, after=last_outbox_row() - 1)
        deadline = time.monotonic() + 60
        while not (all(receiver.arrivals.get((f"/hook/{n}", warm_up)) for n in range(args.endpoints)) and settled(org)):
            if time.monotonic() > deadline:
                sys.exit(f"the clusters did not deliver the warm-up change within 60 s: see {log}")
            time.sleep(0.05)
        expected = receiver.count + args.endpoints * args.events
        pace = f"{args.rate:g}/s" if args.rate else "unpaced"
        print(f"Committing {args.events} changes ({pace}) to {args.endpoints} endpoint(s)...", flush=True)
        cpu_before = time.process_time()
        workers_before = sum(cpu_seconds(p.pid) for p in clusters)
        committed = produce(commit, args.events, args.rate, args.producers)
        produced_at = time.monotonic()
        complete = receiver.wait_for(expected, produced_at + args.timeout)
        time.sleep(0.5)  # anything sent twice would arrive now
        bench_cpu = time.process_time() - cpu_before
        workers_cpu = sum(cpu_seconds(p.pid) for p in clusters) - workers_before
    finally:
        stop(clusters)
    by_status, by_attempts = database_check(org)
    connections.close_all()
    receiver.server.shutdown()

    latencies, missing = [], 0
    last = 0.0
    for n in range(args.endpoints):
        for webhook_id, at in committed.items():
            got = receiver.arrivals.get((f"/hook/{n}", webhook_id))
            if not got:
                missing += 1
                continue
            latencies.append(got[0] - at)
            last = max(last, got[0])
    doubled = sum(len(times) - 1 for times in receiver.arrivals.values())
    delivered = len(latencies)
    first, final = min(committed.values()), max(committed.values())
    elapsed = (last or time.monotonic()) - first
    lat = sorted(latencies)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    print()
    print("Convene webhook delivery benchmark (PostgreSQL + Redis, loopback receiver)")
    print(f"  workers           {args.clusters} qcluster processes x {args.q_workers} workers; database {args.database}")
    how = "ticket_type_update" if args.via == "service" else "outbox_publish"
    print(f"  load              {args.events} changes ({how}) x {args.endpoints} endpoint(s), "
          f"offered {pace} by {args.producers} thread(s); committed in {final - first:.2f} s")  # fmt: skip
    print(f"  elapsed           {elapsed:.2f} s from the first commit to the last message received")
    print(f"  deliveries/s      {delivered / elapsed:.1f}")
    print(f"  commit→receipt    p50 {ms(percentile(lat, 50))}  p95 {ms(percentile(lat, 95))}  p99 {ms(percentile(lat, 99))}"
          f"  max {ms(lat[-1]) if lat else '-'}")  # fmt: skip
    print(f"  received          {delivered} of {args.events * args.endpoints}, {missing} missing, {doubled} twice")
    print(f"  database          {dict(by_status)}; attempts per delivery {dict(sorted(by_attempts.items()))}")
    print(f"  CPU               clusters {workers_cpu:.1f} s, this process {bench_cpu:.1f} s (producer and receiver)")
    ok = complete and not missing and not doubled and set(by_attempts) == {1} and set(by_status) == {"succeeded"}
    print(f"LOST OR DOUBLED: {'no' if ok else 'yes'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
