"""Registration under load: many people press "Register" at the same moment.

The race tests need PostgreSQL (SQLite serialises writers itself and ignores FOR UPDATE): run them with
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/events/test_registration_concurrency.py
Each thread uses its own database connection (Django's connections are per thread) and closes it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from events import services
from events.errors import SalesClosed, SalesNotOpen, SessionFull, TicketTypeSoldOut
from events.models import Registration, RegistrationSession, RegistrationStatus
from portal.errors import Busy
from tests.factories import make_event, make_org, make_ticket_type

ATTEMPTS = 60
SEATS = 10
BUSY_RETRIES = 50

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="race tests need PostgreSQL row locks: set DATABASE_URL=postgres://... (SQLite serialises writers)",
)


def race(attempts: int, register: Callable[[int], object]) -> list[object]:
    """Call register(i) for every i at once from ``attempts`` threads; return results or raised errors.

    A BUSY answer (the lock was not granted within LOCK_TIMEOUT_MS) is retried, as the public form tells
    people to: the outcome under test is who gets a seat, not how long the queue is.
    """
    barrier = threading.Barrier(attempts)

    def one(i: int) -> object:
        try:
            barrier.wait(timeout=30)
            for _ in range(BUSY_RETRIES):
                try:
                    return register(i)
                except Busy:
                    time.sleep(random.uniform(0.01, 0.1))
            return register(i)
        except Exception as exc:  # the outcome under test
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        return list(pool.map(one, range(attempts)))


def outcome(result: object) -> str:
    return "registered" if isinstance(result, Registration) else type(result).__name__


@pytest.mark.postgres
@on_postgres
def test_registration_race_for_ten_seats_confirms_exactly_ten(transactional_db):
    org = make_org()
    event = make_event(org, publish=True, capacity=SEATS)
    ticket_type = event.ticket_types.get()

    results = race(
        ATTEMPTS,
        lambda i: services.registration_create(
            org=org, actor=None, ticket_type_id=ticket_type.pk, name=f"Person {i}", email=f"person{i}@example.com"
        ),
    )

    assert Counter(map(outcome, results)) == {"registered": SEATS, "TicketTypeSoldOut": ATTEMPTS - SEATS}
    assert Registration.objects.filter(ticket_type=ticket_type, status=RegistrationStatus.CONFIRMED).count() == SEATS
    assert all(r.code == "SOLD_OUT" for r in results if isinstance(r, TicketTypeSoldOut))


@pytest.mark.postgres
@on_postgres
def test_registration_race_for_a_full_session_confirms_exactly_its_capacity(transactional_db):
    org = make_org()
    event = make_event(org, publish=True, capacity=None)
    session = services.session_create(
        org=org,
        actor=None,
        event_id=event.pk,
        title="Workshop",
        room="Lab",
        starts_at=event.starts_at,
        ends_at=event.starts_at + timedelta(hours=1),
        capacity=SEATS,
    )
    ticket_type = event.ticket_types.get()

    results = race(
        ATTEMPTS,
        lambda i: services.registration_create(
            org=org,
            actor=None,
            ticket_type_id=ticket_type.pk,
            name=f"Person {i}",
            email=f"person{i}@example.com",
            session_ids=[session.pk],
        ),
    )

    assert Counter(map(outcome, results)) == {"registered": SEATS, "SessionFull": ATTEMPTS - SEATS}
    assert RegistrationSession.objects.filter(session=session).count() == SEATS
    assert Registration.objects.filter(ticket_type=ticket_type).count() == SEATS
    assert all(r.field == "sessions" for r in results if isinstance(r, SessionFull))


@pytest.mark.postgres
@on_postgres
def test_registration_concurrent_retries_with_one_email_create_one_registration(transactional_db):
    org = make_org()
    event = make_event(org, publish=True, capacity=SEATS)
    ticket_type = event.ticket_types.get()

    results = race(
        20,
        lambda i: services.registration_create(
            org=org, actor=None, ticket_type_id=ticket_type.pk, name="Ada Lovelace", email="ada@example.com"
        ),
    )

    assert Counter(map(outcome, results)) == {"registered": 20}
    assert len({r.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Registration.objects.filter(ticket_type=ticket_type).count() == 1


# --- Any database ----------------------------------------------------------------------------------


def test_registration_before_the_sales_window_is_refused(published_event):
    starts = timezone.now() + timedelta(days=1)
    early = make_ticket_type(published_event, name="Later", sales_start=starts, sales_end=starts + timedelta(days=2))

    with pytest.raises(SalesNotOpen) as refused:
        services.registration_create(
            org=published_event.organization, actor=None, ticket_type_id=early.pk, name="Ada", email="ada@example.com"
        )

    assert refused.value.code == "SALES_NOT_OPEN"
    assert refused.value.field == "ticket_type"
    assert Registration.objects.filter(ticket_type=early).count() == 0


def test_registration_after_the_sales_window_is_refused(published_event):
    ended = timezone.now() - timedelta(minutes=1)
    late = make_ticket_type(published_event, name="Early bird", sales_start=ended - timedelta(days=3), sales_end=ended)

    with pytest.raises(SalesClosed) as refused:
        services.registration_create(
            org=published_event.organization, actor=None, ticket_type_id=late.pk, name="Ada", email="ada@example.com"
        )

    assert refused.value.code == "SALES_CLOSED"
    assert Registration.objects.filter(ticket_type=late).count() == 0


def test_registration_inside_the_sales_window_is_confirmed(published_event):
    now = timezone.now()
    open_now = make_ticket_type(
        published_event, name="Regular", sales_start=now - timedelta(hours=1), sales_end=now + timedelta(days=1)
    )

    registration = services.registration_create(
        org=published_event.organization, actor=None, ticket_type_id=open_now.pk, name="Ada", email="ada@example.com"
    )

    assert registration.status == RegistrationStatus.CONFIRMED


@pytest.mark.parametrize("again", ["ada@example.com", "  ADA@Example.com "])
def test_registration_again_with_the_same_email_returns_the_same_registration(published_event, again):
    ticket_type = published_event.ticket_types.get()
    first = services.registration_create(
        org=published_event.organization, actor=None, ticket_type_id=ticket_type.pk, name="Ada", email="ada@example.com"
    )

    second = services.registration_create(
        org=published_event.organization, actor=None, ticket_type_id=ticket_type.pk, name="Ada L.", email=again
    )

    assert (second.pk, second.code, second.created) == (first.pk, first.code, False)
    assert Registration.objects.filter(ticket_type=ticket_type).count() == 1


def test_registration_when_sold_out_is_refused_and_takes_no_seat(org):
    event = make_event(org, publish=True, capacity=1)
    ticket_type = event.ticket_types.get()
    services.registration_create(org=org, actor=None, ticket_type_id=ticket_type.pk, name="First", email="first@example.com")

    with pytest.raises(TicketTypeSoldOut):
        services.registration_create(org=org, actor=None, ticket_type_id=ticket_type.pk, name="Next", email="next@example.com")

    assert list(Registration.objects.filter(ticket_type=ticket_type).values_list("email", flat=True)) == ["first@example.com"]
