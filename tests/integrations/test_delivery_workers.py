"""Real worker processes (`manage.py qcluster` on the Redis broker) deliver every committed event, once.

A worker killed in the middle of a request leaves its claim behind: the delivery is sent again, with the
same webhook-id, once the claim's lease has run out, and only once. Two clusters sharing a stream of
events deliver each message exactly once between them.

Needs PostgreSQL and Redis (each test starts separate OS processes that share the database and the queue):
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/1 \
    .venv/bin/pytest tests/integrations/test_delivery_workers.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.tasks import async_task, result

from integrations import services
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from integrations.services import outbox_publish
from tests.factories import make_org
from tests.integrations.receivers import KeepAliveReceiver

ROOT = Path(__file__).resolve().parents[2]
#: the claim lease of the crash test's workers (the default is 2 minutes)
LEASE_SECONDS = 3

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="worker processes need a shared PostgreSQL database and Redis: set DATABASE_URL=postgres://... and REDIS_URL",
    ),
]


def wait_until(condition: Callable[[], object], timeout: float, every: float = 0.05) -> object:
    """Poll ``condition`` until it is true (and return its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {timeout} s")
        time.sleep(every)
    return value


@pytest.fixture
def receiver():
    r = KeepAliveReceiver()
    yield r
    r.stop()


@pytest.fixture
def queue(monkeypatch):
    """Tasks queued from this test go to the Redis broker (instead of running here), starting from an empty queue."""
    monkeypatch.setattr(Conf, "SYNC", False)
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def clusters(transactional_db, queue, tmp_path):
    """Start ``manage.py qcluster`` processes on this test's database; all are stopped (killed) at the end."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
        "Q_WORKERS": "2",
    }
    started: list[subprocess.Popen] = []

    def start(*, lease_seconds: int = 120) -> subprocess.Popen:
        log = (tmp_path / f"qcluster-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env={**env, "WEBHOOKS_CLAIM_LEASE_SECONDS": str(lease_seconds)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    for proc in started:
        kill(proc)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the cluster and every process it started (its workers): no clean-up runs. Returns once all are gone."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    wait_until(lambda: not _group_alive(proc.pid), timeout=10)


def queue_readers_gone() -> None:
    """Wait until Redis has dropped the killed readers of our queue.

    One still blocked on the list when a task is pushed would take it to its grave (the Redis broker has
    no acknowledgements; the outbox sweep recovers such a loss a minute later, which this test does not wait for).
    """
    redis = get_broker().connection
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))
    wait_until(lambda: not [c for c in redis.client_list() if c.get("db") == db and c.get("cmd") == "blpop"], timeout=10)


def _group_alive(pgid: int) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) == pgid:
                return True
        except OSError:
            continue
    return False


def publish(org, n: int) -> str:
    with transaction.atomic():
        return outbox_publish(org=org, event_type="event.updated", data={"n": n}).public_id


def run_deliver_due() -> int:
    """What the every-minute schedule does, queued now; returns how many deliveries it claimed."""
    task_id = async_task("integrations.tasks.webhooks_deliver_due_task")
    claimed = result(task_id, wait=20_000)
    assert claimed is not None, "no worker ran the task within 20 s"
    return claimed


def test_worker_killed_mid_request_is_sent_again_once_after_its_lease(clusters, receiver):
    org = make_org()
    services.webhook_endpoint_create(org=org, actor=None, url=receiver.url())
    first_cluster = clusters(lease_seconds=LEASE_SECONDS)
    receiver.holding = True

    held = publish(org, 1)
    wait_until(lambda: receiver.ids() == [held], timeout=30)
    delivery = WebhookDelivery.objects.get(outbox_event__public_id=held)
    lease_ends = delivery.next_attempt_at.timestamp()
    kill(first_cluster)
    queue_readers_gone()
    # committed while no worker runs: waits in the queue
    queued = publish(org, 2)
    clusters(lease_seconds=LEASE_SECONDS)

    # the schedule's sweep for due deliveries, run repeatedly: it claims nothing until the lease ends
    wait_until(lambda: run_deliver_due() and receiver.ids().count(held) == 2, timeout=30, every=0.2)
    wait_until(lambda: queued in receiver.ids(), timeout=30)
    wait_until(
        lambda: not WebhookDelivery.objects.filter(organization=org).exclude(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=10,
    )

    assert run_deliver_due() == 0
    assert Counter(receiver.ids()) == {held: 2, queued: 1}
    first_sent_at, retried_at = [m.at for m in receiver.messages if m.webhook_id == held]
    # the claim was still running when the worker died, and the retry waited for it to run out
    assert first_sent_at <= lease_ends <= retried_at
    delivery.refresh_from_db()
    # the killed worker never recorded its attempt: the one attempt on record is the retry's
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    [attempt] = delivery.attempts.all()
    assert attempt.request_headers["webhook-id"] == held
    assert WebhookAttempt.objects.filter(delivery__outbox_event__public_id=queued).count() == 1


def _socket_ports(pgid: int) -> set[int]:
    """Local TCP ports of every socket held by the processes of one process group (Linux /proc)."""
    inodes = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:  # the process ended meanwhile
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


ENDPOINTS = 4
EVENTS = 250


def test_two_clusters_deliver_each_of_1000_messages_exactly_once(clusters, receiver):
    org = make_org()
    paths = [f"/hook/{n}" for n in range(ENDPOINTS)]
    for path in paths:
        services.webhook_endpoint_create(org=org, actor=None, url=receiver.url(path))
    pair = [clusters(), clusters()]
    sender_of: dict[int, int] = {}  # client port -> which cluster had it open

    def note_senders() -> None:
        for n, proc in enumerate(pair):
            sender_of.update(dict.fromkeys(_socket_ports(proc.pid), n))

    published = [publish(org, n) for n in range(EVENTS)]
    last_sweep = 0.0

    def all_received() -> bool:
        nonlocal last_sweep
        note_senders()
        if time.monotonic() - last_sweep > 0.1:
            # the schedule's sweep for due deliveries, far more often than every minute: its claims race
            # the first attempts' claims in both clusters
            async_task("integrations.tasks.webhooks_deliver_due_task", save=False)
            last_sweep = time.monotonic()
        return len(receiver.messages) >= ENDPOINTS * EVENTS

    wait_until(all_received, timeout=60)
    wait_until(
        lambda: not WebhookDelivery.objects.filter(organization=org).exclude(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=10,
    )

    got = Counter((m.path, m.webhook_id) for m in receiver.messages)
    assert [key for key, n in got.items() if n > 1] == []
    assert set(got) == {(path, webhook_id) for path in paths for webhook_id in published}
    attempts = Counter(WebhookAttempt.objects.filter(organization=org).values_list("delivery_id", flat=True))
    assert len(attempts) == ENDPOINTS * EVENTS
    assert set(attempts.values()) == {1}
    # both clusters took part
    assert {sender_of.get(m.port) for m in receiver.messages} >= {0, 1}
