"""/api/v1/payments: money recorded against registrations, and refunds."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from events import selectors_payments as selectors
from events import services_payments as services
from events import snapshots
from events.models import PaymentMethod, PaymentStatus, Registration
from portal.api import ErrorOut
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, paginate, sort_order
from portal.api.schemas import Body
from portal.errors import NotFound

router = Router(tags=["payments"])

SORT_FIELDS = {"createdAt": "created_at", "amount": "amount", "status": "status", "id": "id"}

#: the services' field names → the API's names (the envelope's ``target``)
FIELD_NAMES = {
    "amount": "amount",
    "currency": "currency",
    "method": "method",
    "reference": "reference",
    "test_card": "testCard",
    "reason": "reason",
}

PAYMENT_EXAMPLE = {
    "id": 41,
    "registrationId": 1207,
    "eventId": 12,
    "amount": "49.00",
    "refundedAmount": "0.00",
    "currency": "EUR",
    "status": "completed",
    "method": "manual",
    "reference": "Bank transfer 2025-0412",
    "failureReason": None,
    "refundReason": None,
    "createdAt": "2025-04-22T14:30:15.000Z",
    "completedAt": "2025-04-22T14:30:15.000Z",
    "failedAt": None,
    "refundedAt": None,
    "links": {"self": "/api/v1/payments/41", "registration": "/api/v1/registrations/1207"},
}


# --- Schemas --------------------------------------------------------------------------------------


class PaymentOut(Schema):
    model_config = {"json_schema_extra": {"examples": [PAYMENT_EXAMPLE]}}

    id: int
    registrationId: int
    eventId: int
    amount: str = Field(..., description="A decimal string, e.g. `49.00`.")
    refundedAmount: str = Field(..., description="How much of `amount` was refunded so far.")
    currency: str
    status: PaymentStatus
    method: PaymentMethod
    reference: str
    failureReason: str | None = Field(..., description="Why a `failed` payment failed, e.g. `card_declined`.")
    refundReason: str | None
    createdAt: datetime
    completedAt: datetime | None
    failedAt: datetime | None
    refundedAt: datetime | None
    links: dict[str, str] = Field(..., description="`self` and `registration`.")


class PaymentList(Schema):
    data: list[PaymentOut]
    pagination: Pagination


class PaymentIn(Body):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"registrationId": 1207, "amount": "49.00", "reference": "Bank transfer 2025-0412"},
                {"registrationId": 1207, "amount": "49.00", "method": "test", "testCard": "4242424242424242"},
            ]
        }
    }

    registrationId: int
    amount: Decimal = Field(..., description="More than zero, at most two decimals.")
    currency: str | None = Field(None, min_length=3, max_length=3, description="Defaults to the ticket's currency.")
    method: PaymentMethod = Field(
        PaymentMethod.MANUAL, description="`manual` (cash, bank transfer, invoice) or `test` (sandbox organizations only)."
    )
    reference: str = Field("", max_length=200, description="Receipt, transfer or invoice number.")
    testCard: str = Field(
        "",
        max_length=30,
        description=f"With `method=test`: `{services.TEST_CARD_SUCCEEDS}` is paid, `{services.TEST_CARD_DECLINED}` is declined.",
    )


class RefundIn(Body):
    model_config = {"json_schema_extra": {"examples": [{"amount": "20.00", "reason": "Left early"}, {}]}}

    amount: Decimal | None = Field(None, description="Defaults to everything not refunded yet.")
    reason: str = Field("", max_length=300)
    cancelRegistration: bool = Field(False, description="Also cancel the registration and free its seat.")


# --- Endpoints ------------------------------------------------------------------------------------


def _payment_out(request: HttpRequest, payment_id: int) -> dict:
    return snapshots.payment_data(selectors.payment_get(org=request.auth.organization, payment_id=payment_id))


@router.get(
    "",
    auth=scoped("payments:read"),
    response={200: PaymentList, READ_ERRORS: ErrorOut},
    summary="List payments",
    description="Filter with `registrationId`, `eventId` and `status` (`pending`, `completed`, `failed`, "
    "`refunded`); sort with `sort=-createdAt` (default), `createdAt`, `amount`, `status`; page with "
    "`page`+`pageSize` or `limit`+`offset`. Needs `payments:read`.",
)
def payment_list(
    request: HttpRequest,
    response: HttpResponse,
    registrationId: int | None = None,
    eventId: int | None = None,
    status: PaymentStatus | None = None,
    sort: str = "-createdAt",
):
    principal = require_scope(request, "payments:read")
    qs = selectors.payment_list(org=principal.organization, registration_id=registrationId, event_id=eventId, status=status or "")
    return paginate(request, response, qs.order_by(*sort_order(sort, SORT_FIELDS, tiebreak="-id")), snapshots.payment_data)


@router.get(
    "/{int:payment_id}",
    auth=scoped("payments:read"),
    response={200: PaymentOut, READ_ERRORS: ErrorOut},
    summary="Get a payment",
    description="One payment of the caller's organization. Needs `payments:read`.",
)
def payment_detail(request: HttpRequest, payment_id: int):
    require_scope(request, "payments:read")
    return _payment_out(request, payment_id)


@router.post(
    "",
    auth=scoped("payments:write"),
    response={201: PaymentOut, WRITE_ERRORS: ErrorOut},
    summary="Record a payment",
    description="Record money received for a registration: `method=manual` (cash, bank transfer, invoice) is "
    "completed at once. In a sandbox organization `method=test` charges a test card: "
    f"`{services.TEST_CARD_SUCCEEDS}` is paid, `{services.TEST_CARD_DECLINED}` is declined (the payment is "
    "created with `status=failed` and `failureReason=card_declined`). When the registration is pending payment "
    "and is now paid in full, it is confirmed. The currency must be the ticket's (422 otherwise); a cancelled "
    "registration answers 409 `REGISTRATION_CANCELLED`. Webhooks: `payment.completed` or `payment.failed`, and "
    "`registration.confirmed`. Needs `payments:write`.",
)
def payment_create(request: HttpRequest, payload: PaymentIn):
    principal = require_scope(request, "payments:write")
    with api_names(FIELD_NAMES):
        try:
            payment = services.payment_record(
                org=principal.organization,
                actor=None,
                registration_id=payload.registrationId,
                amount=payload.amount,
                currency=payload.currency,
                method=payload.method,
                reference=payload.reference,
                test_card=payload.testCard,
            )
        except Registration.DoesNotExist:
            raise NotFound("The requested registration could not be found.", field="registrationId") from None
    return Status(201, _payment_out(request, payment.pk))


@router.post(
    "/{int:payment_id}/refund",
    auth=scoped("payments:write"),
    response={200: PaymentOut, WRITE_ERRORS: ErrorOut},
    summary="Refund a payment",
    description="Refund part (`amount`) or all (no `amount`) of what is left of a completed payment, with an "
    "optional `reason`. A full refund sets `status=refunded`; a partial one keeps `completed` and raises "
    "`refundedAmount`. More than is left answers 422; a payment that is not completed answers 409 "
    "`PAYMENT_NOT_REFUNDABLE`. `cancelRegistration=true` also cancels the registration. Webhook: "
    "`payment.refunded` per refund. Needs `payments:write`.",
)
def payment_refund(request: HttpRequest, payment_id: int, payload: RefundIn | None = None):
    principal = require_scope(request, "payments:write")
    payload = payload or RefundIn()
    with api_names(FIELD_NAMES):
        services.payment_refund(
            org=principal.organization,
            actor=None,
            payment_id=payment_id,
            amount=payload.amount,
            reason=payload.reason,
            cancel_registration=payload.cancelRegistration,
        )
    return _payment_out(request, payment_id)
