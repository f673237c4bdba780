"""Payments: recording money, test cards in sandboxes, refunds, and what they do to the registration."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from events import services, snapshots
from events.errors import PaymentNotRefundable, RegistrationCancelled, ValidationFailed
from events.models import Payment, PaymentStatus, Registration, RegistrationStatus
from events.services_payments import TEST_CARD_DECLINED, TEST_CARD_SUCCEEDS, payment_record, payment_refund
from integrations.models import OutboxEvent
from tests.factories import make_event

pytestmark = pytest.mark.django_db


def outbox_types(org) -> list[str]:
    return list(OutboxEvent.objects.filter(organization=org).order_by("pk").values_list("event_type", flat=True))


@pytest.fixture
def paid_event(org):
    return make_event(org, publish=True, price=Decimal("40.00"))


@pytest.fixture
def pending(org, paid_event):
    return services.registration_create(
        org=org, actor=None, ticket_type_id=paid_event.ticket_types.get().pk, name="Payer", email="payer@example.com"
    )


def record(org, reg, amount="40.00", **kwargs) -> Payment:
    return payment_record(org=org, actor=None, registration_id=reg.pk, amount=amount, **kwargs)


def status_of(reg) -> str:
    return Registration.objects.get(pk=reg.pk).status


# --- Recording ------------------------------------------------------------------------------------


def test_paying_the_full_price_completes_the_payment_and_confirms_the_registration(
    org, pending, django_capture_on_commit_callbacks
):
    before = outbox_types(org)

    with django_capture_on_commit_callbacks() as callbacks:
        payment = record(org, pending, reference="Receipt 17")

    payment.refresh_from_db()
    assert (payment.status, payment.amount, payment.currency, payment.reference) == (
        PaymentStatus.COMPLETED,
        Decimal("40.00"),
        "EUR",
        "Receipt 17",
    )
    assert payment.completed_at is not None
    assert status_of(pending) == RegistrationStatus.CONFIRMED
    assert outbox_types(org)[len(before) :] == ["payment.completed", "registration.confirmed"]
    queued = [c.args[0] for c in callbacks if getattr(c, "func", None) is not None and c.args]
    assert "events.tasks.registration_confirmed_task" in queued  # ticket and e-mail, queued after commit


def test_a_partial_payment_keeps_the_registration_pending_until_the_rest_arrives(org, pending):
    record(org, pending, amount="15")
    assert status_of(pending) == RegistrationStatus.PENDING_PAYMENT

    record(org, pending, amount="25")

    assert status_of(pending) == RegistrationStatus.CONFIRMED
    assert outbox_types(org).count("registration.confirmed") == 1


def test_refunded_money_does_not_count_towards_the_price(org, pending):
    first = record(org, pending, amount="30")
    payment_refund(org=org, actor=None, payment_id=first.pk, amount="20")

    record(org, pending, amount="10")

    assert status_of(pending) == RegistrationStatus.PENDING_PAYMENT


def test_the_outbox_payload_is_the_payment_resource(org, pending):
    payment = record(org, pending)

    event = OutboxEvent.objects.get(organization=org, event_type="payment.completed")
    assert event.payload == snapshots.payment_data(Payment.objects.get(pk=payment.pk))
    assert event.payload["amount"] == "40.00"
    assert event.payload["links"] == {
        "self": f"/api/v1/payments/{payment.pk}",
        "registration": f"/api/v1/registrations/{pending.pk}",
    }


def test_recording_a_payment_writes_an_audit_entry(org, pending):
    payment = record(org, pending)

    entry = AuditEntry.objects.get(organization=org, action="events.payment.completed")
    assert entry.object_id == str(payment.pk)
    assert entry.changes == {"amount": "40.00", "currency": "EUR", "method": "manual"}


def test_the_currency_defaults_to_the_tickets_and_is_case_insensitive(org, pending):
    assert record(org, pending, currency="eur").currency == "EUR"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "10.005"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"method": "bitcoin"}, "method"),
    ],
)
def test_an_invalid_payment_is_refused_on_the_right_field(org, pending, kwargs, field):
    amount = kwargs.pop("amount", "40.00")

    with pytest.raises(ValidationFailed) as exc:
        record(org, pending, amount=amount, **kwargs)

    assert exc.value.field == field
    assert Payment.objects.count() == 0
    assert status_of(pending) == RegistrationStatus.PENDING_PAYMENT


def test_a_cancelled_registration_cannot_be_paid(org, pending):
    services.registration_cancel(org=org, actor=None, registration_id=pending.pk)

    with pytest.raises(RegistrationCancelled):
        record(org, pending)

    assert Payment.objects.count() == 0


def test_another_organizations_registration_is_missing(org, other_org):
    foreign = Registration.objects.get(organization=other_org)

    with pytest.raises(Registration.DoesNotExist):
        record(org, foreign)


# --- Test cards -----------------------------------------------------------------------------------


@pytest.fixture
def sandbox(org):
    org.is_sandbox = True
    org.save(update_fields=["is_sandbox"])
    return org


def test_the_succeeding_test_card_pays_in_a_sandbox(sandbox, pending):
    payment = record(sandbox, pending, method="test", test_card=TEST_CARD_SUCCEEDS)

    assert payment.status == PaymentStatus.COMPLETED
    assert status_of(pending) == RegistrationStatus.CONFIRMED
    assert outbox_types(sandbox)[-2:] == ["payment.completed", "registration.confirmed"]


def test_the_declined_test_card_fails_and_leaves_the_registration_pending(sandbox, pending):
    payment = record(sandbox, pending, method="test", test_card="4000 0000 0000 0002")

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "card_declined")
    assert payment.failed_at is not None
    assert status_of(pending) == RegistrationStatus.PENDING_PAYMENT
    assert outbox_types(sandbox)[-1] == "payment.failed"
    assert AuditEntry.objects.filter(action="events.payment.failed", object_id=str(payment.pk)).exists()


def test_an_unknown_test_card_names_the_two_test_cards(sandbox, pending):
    with pytest.raises(ValidationFailed) as exc:
        record(sandbox, pending, method="test", test_card="4111111111111111")

    assert exc.value.field == "test_card"
    assert TEST_CARD_SUCCEEDS in exc.value.message
    assert TEST_CARD_DECLINED in exc.value.message


def test_test_cards_are_refused_outside_a_sandbox(org, pending):
    with pytest.raises(ValidationFailed) as exc:
        record(org, pending, method="test", test_card=TEST_CARD_SUCCEEDS)

    assert exc.value.field == "method"
    assert Payment.objects.count() == 0


# --- Refunds --------------------------------------------------------------------------------------


@pytest.fixture
def payment(org, pending):
    return record(org, pending)


def refund(org, payment, **kwargs) -> Payment:
    return payment_refund(org=org, actor=None, payment_id=payment.pk, **kwargs)


def test_a_full_refund_marks_the_payment_refunded(org, payment):
    refunded = refund(org, payment, reason="Changed plans")

    refunded.refresh_from_db()
    assert (refunded.status, refunded.refunded_amount, refunded.refund_reason) == (
        PaymentStatus.REFUNDED,
        Decimal("40.00"),
        "Changed plans",
    )
    assert refunded.refunded_at is not None
    assert outbox_types(org)[-1] == "payment.refunded"
    entry = AuditEntry.objects.get(action="events.payment.refunded")
    assert entry.changes == {"amount": "40.00", "reason": "Changed plans"}


def test_partial_refunds_keep_the_payment_completed_until_nothing_is_left(org, payment):
    refund(org, payment, amount="10")
    partly = Payment.objects.get(pk=payment.pk)
    assert (partly.status, partly.refunded_amount) == (PaymentStatus.COMPLETED, Decimal("10.00"))

    refund(org, payment)  # the rest

    rest = Payment.objects.get(pk=payment.pk)
    assert (rest.status, rest.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("40.00"))
    assert outbox_types(org).count("payment.refunded") == 2


def test_refunding_more_than_is_left_is_refused(org, payment):
    refund(org, payment, amount="30")

    with pytest.raises(ValidationFailed) as exc:
        refund(org, payment, amount="10.01")

    assert exc.value.field == "amount"
    assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("30.00")


def test_a_refunded_payment_cannot_be_refunded_again(org, payment):
    refund(org, payment)

    with pytest.raises(PaymentNotRefundable):
        refund(org, payment)

    assert outbox_types(org).count("payment.refunded") == 1


def test_a_failed_payment_cannot_be_refunded(sandbox, pending):
    failed = record(sandbox, pending, method="test", test_card=TEST_CARD_DECLINED)

    with pytest.raises(PaymentNotRefundable):
        refund(sandbox, failed)


def test_a_refund_keeps_the_registration_unless_asked_to_cancel_it(org, payment, pending):
    refund(org, payment, amount="5")
    assert status_of(pending) == RegistrationStatus.CONFIRMED

    refund(org, payment, reason="No show", cancel_registration=True)

    assert status_of(pending) == RegistrationStatus.CANCELLED
    assert outbox_types(org)[-2:] == ["payment.refunded", "registration.cancelled"]


def test_another_organizations_payment_is_missing(org, other_org):
    event = make_event(other_org, publish=True, price=Decimal("9"))
    reg = services.registration_create(
        org=other_org, actor=None, ticket_type_id=event.ticket_types.get().pk, name="X", email="x@example.com"
    )
    foreign = payment_record(org=other_org, actor=None, registration_id=reg.pk, amount="9")

    with pytest.raises(Payment.DoesNotExist):
        refund(org, foreign)

    assert Payment.objects.get(pk=foreign.pk).status == PaymentStatus.COMPLETED
