"""Payments and registration changes at the same moment: row locks keep the money and the seats right.

Run on PostgreSQL (SQLite serialises writers and ignores FOR UPDATE):
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/events/test_payments_concurrency.py
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from events import services
from events.models import Payment, PaymentStatus, Registration, RegistrationSession, RegistrationStatus
from events.services_payments import payment_record, payment_refund
from integrations.models import OutboxEvent
from tests.events.test_registration_concurrency import on_postgres, race
from tests.factories import make_event, make_org

pytestmark = [pytest.mark.postgres, on_postgres]


def outcome(result: object) -> str:
    return "ok" if isinstance(result, Payment | Registration) else getattr(result, "code", type(result).__name__)


def test_parallel_refunds_never_give_back_more_than_was_paid(transactional_db):
    org = make_org()
    event = make_event(org, publish=True, price=Decimal("40"))
    reg = services.registration_create(
        org=org, actor=None, ticket_type_id=event.ticket_types.get().pk, name="Payer", email="payer@example.com"
    )
    payment = payment_record(org=org, actor=None, registration_id=reg.pk, amount="40")

    results = race(10, lambda i: payment_refund(org=org, actor=None, payment_id=payment.pk, amount="10"))

    counts = Counter(map(outcome, results))
    assert counts["ok"] == 4
    assert sum(counts.values()) == 10
    assert set(counts) <= {"ok", "VALIDATION_ERROR", "PAYMENT_NOT_REFUNDABLE"}
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (Decimal("40.00"), PaymentStatus.REFUNDED)
    assert OutboxEvent.objects.filter(organization=org, event_type="payment.refunded").count() == 4


def test_parallel_payments_confirm_the_registration_once(transactional_db):
    org = make_org()
    event = make_event(org, publish=True, price=Decimal("40"))
    reg = services.registration_create(
        org=org, actor=None, ticket_type_id=event.ticket_types.get().pk, name="Payer", email="payer@example.com"
    )

    results = race(8, lambda i: payment_record(org=org, actor=None, registration_id=reg.pk, amount="10"))

    assert Counter(map(outcome, results)) == {"ok": 8}
    assert Registration.objects.get(pk=reg.pk).status == RegistrationStatus.CONFIRMED
    assert OutboxEvent.objects.filter(organization=org, event_type="registration.confirmed").count() == 1


def test_two_registrations_taking_the_same_email_at_once_one_wins(transactional_db):
    org = make_org()
    event = make_event(org, publish=True)
    tt = event.ticket_types.get()
    regs = [
        services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name=f"P{i}", email=f"p{i}@example.com")
        for i in range(6)
    ]

    results = race(
        6, lambda i: services.registration_update(org=org, actor=None, registration_id=regs[i].pk, email="same@example.com")
    )

    assert Counter(map(outcome, results)) == {"ok": 1, "ALREADY_REGISTERED": 5}
    assert Registration.objects.filter(ticket_type=tt, email="same@example.com").count() == 1


def test_adding_a_session_by_update_never_overfills_it(transactional_db):
    org = make_org()
    event = make_event(org, publish=True)
    session = services.session_create(
        org=org, actor=None, event_id=event.pk, title="Small room", starts_at=event.starts_at, ends_at=event.ends_at, capacity=3
    )
    tt = event.ticket_types.get()
    regs = [
        services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name=f"P{i}", email=f"p{i}@example.com")
        for i in range(12)
    ]

    results = race(
        12, lambda i: services.registration_update(org=org, actor=None, registration_id=regs[i].pk, session_ids=[session.pk])
    )

    assert Counter(map(outcome, results)) == {"ok": 3, "SESSION_FULL": 9}
    assert RegistrationSession.objects.filter(session=session).count() == 3
