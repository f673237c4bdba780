"""Several workers claiming due deliveries at the same moment never get the same one.

Needs PostgreSQL (SQLite serialises writers and ignores FOR UPDATE ... SKIP LOCKED): run with
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/integrations/test_delivery_claim_concurrency.py
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from integrations import services
from integrations.models import DeliveryStatus
from integrations.services import outbox_publish
from tests.factories import make_org

WORKERS = 8
BATCH = 5
DELIVERIES = 30

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="claim races need PostgreSQL row locks: set DATABASE_URL=postgres://... (SQLite serialises writers)",
)


@pytest.mark.postgres
@on_postgres
def test_claim_race_hands_each_delivery_to_one_worker(transactional_db):
    org = make_org()
    # nothing listens there: the first attempts (run on commit) fail at once and the deliveries stay pending
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="http://127.0.0.1:1/hook")
    with transaction.atomic():
        for n in range(DELIVERIES):
            outbox_publish(org=org, event_type="event.updated", data={"n": n})
    now = timezone.now()
    endpoint.deliveries.update(next_attempt_at=now)
    barrier = threading.Barrier(WORKERS)

    def claim(_: int) -> list[int]:
        try:
            barrier.wait(timeout=30)
            return services.deliveries_claim(limit=BATCH, now=now)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        claims = list(pool.map(claim, range(WORKERS)))

    claimed = [pk for batch in claims for pk in batch]
    assert endpoint.deliveries.filter(status=DeliveryStatus.PENDING).count() == DELIVERIES
    assert [pk for pk, n in Counter(claimed).items() if n > 1] == []
    assert sorted(claimed) == sorted(endpoint.deliveries.values_list("pk", flat=True))
