"""Payments: money recorded against a registration, refunds, and the sandbox's test cards.

A payment that brings a registration's net paid amount (completed payments minus refunds) up to its
ticket's price confirms the registration in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.services import audit_log
from events import snapshots
from events.errors import PaymentNotRefundable, RegistrationCancelled, ValidationFailed
from events.models import Payment, PaymentMethod, PaymentStatus, Registration, RegistrationStatus
from events.services import _lock_registration, _registration_cancel, _registration_confirm
from integrations.services import outbox_publish
from portal.db import lock_timeout

#: the sandbox's test cards: this one is paid ...
TEST_CARD_SUCCEEDS = "4242424242424242"
#: ... and this one is declined
TEST_CARD_DECLINED = "4000000000000002"
MAX_AMOUNT = Decimal("99999999.99")  # Payment.amount: 10 digits, 2 of them decimals


def _amount(value: Decimal | int | str, *, field: str = "amount") -> Decimal:
    """A positive amount of money with at most two decimals, or the reason it is not one."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("Enter the amount as a number, such as 25.00."), field=field) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed(_("The amount must be more than zero."), field=field)
    if amount > MAX_AMOUNT:  # before quantizing: a huge number cannot be quantized at all
        raise ValidationFailed(_("The amount is too large."), field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(_("The amount can have at most two decimals."), field=field)
    return amount.quantize(Decimal("0.01"))


def registration_paid_amount(*, registration: Registration) -> Decimal:
    """What the attendee has paid and kept: completed payments minus what was refunded of them."""
    paid = Payment.objects.filter(
        registration=registration, status__in=(PaymentStatus.COMPLETED, PaymentStatus.REFUNDED)
    ).aggregate(net=Sum(F("amount") - F("refunded_amount")))["net"]
    return paid or Decimal("0.00")


def _payment_snapshot(payment: Payment) -> dict:
    return snapshots.payment_data(payment)


def _complete(*, org: Organization, actor: User | None, payment: Payment, reg: Registration) -> None:
    payment.status = PaymentStatus.COMPLETED
    payment.completed_at = timezone.now()
    payment.save()
    audit_log(
        org=org,
        actor=actor,
        action="events.payment.completed",
        obj=payment,
        changes={"amount": str(payment.amount), "currency": payment.currency, "method": payment.method},
    )
    outbox_publish(org=org, event_type="payment.completed", data=_payment_snapshot(payment))
    if reg.status == RegistrationStatus.PENDING_PAYMENT and registration_paid_amount(registration=reg) >= reg.ticket_type.price:
        _registration_confirm(org=org, actor=actor, reg=reg)


def _fail(*, org: Organization, actor: User | None, payment: Payment, reason: str) -> None:
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason
    payment.failed_at = timezone.now()
    payment.save()
    audit_log(org=org, actor=actor, action="events.payment.failed", obj=payment, changes={"reason": reason})
    outbox_publish(org=org, event_type="payment.failed", data=_payment_snapshot(payment))


@transaction.atomic(durable=True)
def payment_record(
    *,
    org: Organization,
    actor: User | None,
    registration_id: int,
    amount: Decimal | int | str,
    currency: str | None = None,
    method: str = PaymentMethod.MANUAL,
    reference: str = "",
    test_card: str = "",
) -> Payment:
    """Record money received for a registration (cash, bank transfer, invoice), or charge a sandbox test card.

    A manual payment is completed at once. A test card (``method="test"``, sandbox organizations only)
    is completed with ``TEST_CARD_SUCCEEDS`` and fails as ``card_declined`` with ``TEST_CARD_DECLINED``.
    Paying a pending registration in full confirms it.
    """
    amount = _amount(amount)
    if method not in PaymentMethod.values:
        raise ValidationFailed(_("Choose manual or test as the payment method."), field="method")
    if method == PaymentMethod.TEST:
        if not org.is_sandbox:
            raise ValidationFailed(_("Test card payments are only possible in a sandbox organization."), field="method")
        test_card = "".join(test_card.split())
        if test_card not in (TEST_CARD_SUCCEEDS, TEST_CARD_DECLINED):
            raise ValidationFailed(
                _("Use the test card %(ok)s (paid) or %(declined)s (declined).")
                % {"ok": TEST_CARD_SUCCEEDS, "declined": TEST_CARD_DECLINED},
                field="test_card",
            )
    reg = _lock_registration(org=org, registration_id=registration_id)
    if reg.status == RegistrationStatus.CANCELLED:
        raise RegistrationCancelled(_("A cancelled registration cannot be paid."), registration_id=reg.pk)
    expected = reg.ticket_type.currency
    currency = (currency or expected).strip().upper()
    if currency != expected:
        raise ValidationFailed(
            _("This ticket is priced in %(expected)s: record the payment in %(expected)s.") % {"expected": expected},
            field="currency",
        )
    payment = Payment(
        organization=org,
        registration=reg,
        amount=amount,
        currency=currency,
        method=method,
        reference=reference.strip()[:200],
    )
    if method == PaymentMethod.TEST and test_card == TEST_CARD_DECLINED:
        _fail(org=org, actor=actor, payment=payment, reason="card_declined")
    else:
        _complete(org=org, actor=actor, payment=payment, reg=reg)
    return payment


@transaction.atomic(durable=True)
def payment_refund(
    *,
    org: Organization,
    actor: User | None,
    payment_id: int,
    amount: Decimal | int | str | None = None,
    reason: str = "",
    cancel_registration: bool = False,
) -> Payment:
    """Give back part or all of a completed payment (all that is left when ``amount`` is None).

    A full refund marks the payment ``refunded``; a partial one keeps it ``completed`` with the
    refunded amount. ``cancel_registration`` also cancels the registration and frees its seat.
    """
    registration_id = Payment.objects.for_org(org).values_list("registration_id", flat=True).get(pk=payment_id)
    reg = _lock_registration(org=org, registration_id=registration_id)  # the registration first, as payment_record
    with lock_timeout():
        payment = Payment.objects.for_org(org).select_for_update().get(pk=payment_id)
    payment.registration = reg
    if payment.status != PaymentStatus.COMPLETED:
        raise PaymentNotRefundable(
            _("Only a completed payment can be refunded; this one is %(status)s.")
            % {"status": payment.get_status_display().lower()},
            payment_id=payment.pk,
        )
    left = payment.amount - payment.refunded_amount
    amount = left if amount is None else _amount(amount)
    if amount > left:
        raise ValidationFailed(
            _("At most %(left)s %(currency)s is left to refund.") % {"left": left, "currency": payment.currency},
            field="amount",
        )
    now = timezone.now()
    payment.refunded_amount += amount
    payment.refunded_at = now
    payment.refund_reason = reason.strip()[:300] or payment.refund_reason
    if payment.refunded_amount == payment.amount:
        payment.status = PaymentStatus.REFUNDED
    payment.save(update_fields=["refunded_amount", "refunded_at", "refund_reason", "status"])
    audit_log(
        org=org,
        actor=actor,
        action="events.payment.refunded",
        obj=payment,
        changes={"amount": str(amount), "reason": reason.strip()} if reason.strip() else {"amount": str(amount)},
    )
    outbox_publish(org=org, event_type="payment.refunded", data=_payment_snapshot(payment))
    if cancel_registration:
        _registration_cancel(org=org, actor=actor, reg=reg, reason=reason.strip() or _("Refunded"))
    return payment
