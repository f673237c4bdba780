"""/api/v1/payments: list, detail, record (manual and sandbox test cards) and refund."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import API_SCOPES
from accounts.services import api_key_create
from events import services, snapshots
from events.models import Payment, PaymentStatus, Registration, RegistrationStatus
from events.services_payments import TEST_CARD_DECLINED, TEST_CARD_SUCCEEDS, payment_record, payment_refund
from integrations.models import OutboxEvent
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event

pytestmark = pytest.mark.django_db

JSON = "application/json"


def outbox_types(org) -> list[str]:
    return list(OutboxEvent.objects.filter(organization=org).order_by("pk").values_list("event_type", flat=True))


def register(event, email: str, name: str = "Payer") -> Registration:
    return services.registration_create(
        org=event.organization, actor=None, ticket_type_id=event.ticket_types.get().pk, name=name, email=email
    )


@pytest.fixture
def paid_event(org):
    return make_event(org, publish=True, price=Decimal("40.00"))


@pytest.fixture
def pending(paid_event):
    return register(paid_event, "payer@example.com")


def post_payment(client, **body):
    return client.post("/api/v1/payments", body, content_type=JSON)


# --- Record ---------------------------------------------------------------------------------------


def test_record_a_manual_payment_answers_201_and_confirms_the_registration(api_client, org, pending):
    before = outbox_types(org)

    response = post_payment(api_client, registrationId=pending.pk, amount="40.00", reference="Transfer 2025-0412")

    assert response.status_code == 201
    payment = Payment.objects.get(registration=pending)
    assert response.json() == snapshots.payment_data(payment)
    body = response.json()
    assert (body["amount"], body["currency"], body["status"], body["method"]) == ("40.00", "EUR", "completed", "manual")
    assert body["links"] == {"self": f"/api/v1/payments/{payment.pk}", "registration": f"/api/v1/registrations/{pending.pk}"}
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.CONFIRMED
    assert outbox_types(org)[len(before) :] == ["payment.completed", "registration.confirmed"]


def test_a_numeric_amount_is_accepted(api_client, pending):
    response = post_payment(api_client, registrationId=pending.pk, amount=12.5)

    assert response.status_code == 201
    assert response.json()["amount"] == "12.50"
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.PENDING_PAYMENT


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "40", "currency": "USD"}, "currency"),
        ({"amount": "40", "method": "cash"}, "method"),
    ],
)
def test_an_invalid_payment_answers_422_targeting_the_field(api_client, pending, body, target):
    error = assert_envelope(post_payment(api_client, registrationId=pending.pk, **body), 422, "VALIDATION_ERROR")

    assert error["target"] == target
    assert Payment.objects.count() == 0


def test_paying_a_cancelled_registration_answers_409(api_client, org, pending):
    services.registration_cancel(org=org, actor=None, registration_id=pending.pk)

    assert_envelope(post_payment(api_client, registrationId=pending.pk, amount="40"), 409, "REGISTRATION_CANCELLED")
    assert Payment.objects.count() == 0


def test_paying_a_missing_registration_answers_404_targeting_it(api_client):
    error = assert_envelope(post_payment(api_client, registrationId=999999, amount="40"), 404, "RESOURCE_NOT_FOUND")

    assert error["target"] == "registrationId"


@pytest.fixture
def sandbox(org):
    org.is_sandbox = True
    org.save(update_fields=["is_sandbox"])
    return org


@pytest.fixture
def sandbox_client(sandbox):
    """A test key: a sandbox refuses live keys."""
    _key, secret = api_key_create(org=sandbox, actor=None, name="sandbox", scopes=list(API_SCOPES))
    return ApiClient(secret)


def test_the_succeeding_test_card_pays_in_a_sandbox(sandbox_client, sandbox, pending):
    response = post_payment(sandbox_client, registrationId=pending.pk, amount="40", method="test", testCard=TEST_CARD_SUCCEEDS)

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["method"]) == ("completed", "test")
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.CONFIRMED


def test_the_declined_test_card_creates_a_failed_payment(sandbox_client, sandbox, pending):
    response = post_payment(sandbox_client, registrationId=pending.pk, amount="40", method="test", testCard=TEST_CARD_DECLINED)

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failureReason"]) == ("failed", "card_declined")
    assert response.json()["failedAt"] is not None
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.PENDING_PAYMENT
    assert outbox_types(sandbox)[-1] == "payment.failed"


def test_an_unknown_test_card_answers_422_naming_both_test_cards(sandbox_client, sandbox, pending):
    response = post_payment(sandbox_client, registrationId=pending.pk, amount="40", method="test", testCard="4111111111111111")

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["target"] == "testCard"
    assert TEST_CARD_SUCCEEDS in error["message"]
    assert TEST_CARD_DECLINED in error["message"]


def test_test_cards_answer_422_outside_a_sandbox(api_client, pending):
    response = post_payment(api_client, registrationId=pending.pk, amount="40", method="test", testCard=TEST_CARD_SUCCEEDS)

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["target"] == "method"
    assert Payment.objects.count() == 0


def test_idempotency_key_records_a_payment_once(api_client, pending):
    headers = {"Idempotency-Key": "pay-1"}
    body = {"registrationId": pending.pk, "amount": "10"}

    first = api_client.post("/api/v1/payments", body, content_type=JSON, headers=headers)
    replay = api_client.post("/api/v1/payments", body, content_type=JSON, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1


# --- Refund ---------------------------------------------------------------------------------------


@pytest.fixture
def payment(org, pending):
    return payment_record(org=org, actor=None, registration_id=pending.pk, amount="40")


def refund(client, payment, **body):
    return client.post(f"/api/v1/payments/{payment.pk}/refund", body, content_type=JSON)


def test_a_partial_refund_keeps_the_payment_completed(api_client, org, payment):
    response = refund(api_client, payment, amount="15", reason="Left early")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["refundedAmount"], body["refundReason"]) == ("completed", "15.00", "Left early")
    assert outbox_types(org)[-1] == "payment.refunded"


def test_a_refund_without_a_body_refunds_everything(api_client, payment):
    response = api_client.post(f"/api/v1/payments/{payment.pk}/refund", content_type=JSON)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["refundedAmount"]) == ("refunded", "40.00")


def test_refunding_more_than_is_left_answers_422(api_client, payment):
    refund(api_client, payment, amount="30")

    error = assert_envelope(refund(api_client, payment, amount="20"), 422, "VALIDATION_ERROR")

    assert error["target"] == "amount"
    assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("30.00")


def test_refunding_a_refunded_payment_answers_409(api_client, org, payment):
    refund(api_client, payment)

    assert_envelope(refund(api_client, payment), 409, "PAYMENT_NOT_REFUNDABLE")
    assert outbox_types(org).count("payment.refunded") == 1


def test_a_refund_can_cancel_the_registration(api_client, org, payment, pending):
    response = refund(api_client, payment, cancelRegistration=True)

    assert response.status_code == 200
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.CANCELLED
    assert outbox_types(org)[-2:] == ["payment.refunded", "registration.cancelled"]


# --- List and detail ------------------------------------------------------------------------------


@pytest.fixture
def three_payments(org, paid_event, pending):
    """Ada's completed 40, Bob's refunded 10, and Cy's completed 25 for another event."""
    bob = register(paid_event, "bob@example.com", "Bob")
    other = make_event(org, publish=True, price=Decimal("25"))
    cy = register(other, "cy@example.com", "Cy")
    ada_payment = payment_record(org=org, actor=None, registration_id=pending.pk, amount="40")
    bob_payment = payment_record(org=org, actor=None, registration_id=bob.pk, amount="10")
    payment_refund(org=org, actor=None, payment_id=bob_payment.pk)
    cy_payment = payment_record(org=org, actor=None, registration_id=cy.pk, amount="25")
    return {"ada": ada_payment, "bob": bob_payment, "cy": cy_payment, "other_event": other}


def ids(response) -> list[int]:
    assert response.status_code == 200
    return [item["id"] for item in response.json()["data"]]


def test_list_payments_newest_first_with_pagination(api_client, three_payments):
    response = api_client.get("/api/v1/payments")

    p = three_payments
    assert ids(response) == [p["cy"].pk, p["bob"].pk, p["ada"].pk]
    assert response.json()["pagination"]["total"] == 3
    assert response.json()["data"][0] == snapshots.payment_data(Payment.objects.get(pk=p["cy"].pk))


def test_list_payments_filters_and_sorts(api_client, three_payments, pending):
    p = three_payments

    assert ids(api_client.get("/api/v1/payments?status=refunded")) == [p["bob"].pk]
    assert ids(api_client.get(f"/api/v1/payments?registrationId={pending.pk}")) == [p["ada"].pk]
    assert ids(api_client.get(f"/api/v1/payments?eventId={p['other_event'].pk}")) == [p["cy"].pk]
    assert ids(api_client.get("/api/v1/payments?sort=amount")) == [p["bob"].pk, p["cy"].pk, p["ada"].pk]


def test_list_payments_pages_with_a_link_header(api_client, three_payments):
    response = api_client.get("/api/v1/payments?pageSize=2")

    assert len(ids(response)) == 2
    assert 'rel="next"' in response["Link"]
    assert ids(api_client.get("/api/v1/payments?pageSize=2&page=2")) == [three_payments["ada"].pk]


def test_list_payments_rejects_an_unknown_sort_or_status(api_client):
    assert_envelope(api_client.get("/api/v1/payments?sort=secret"), 400, "INVALID_SORT")
    assert_envelope(api_client.get("/api/v1/payments?status=lost"), 422, "VALIDATION_ERROR")


def test_payment_list_query_count_does_not_grow_with_items(api_client, org, paid_event):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get("/api/v1/payments").status_code == 200
        return len(ctx.captured_queries)

    first = register(paid_event, "one@example.com")
    payment_record(org=org, actor=None, registration_id=first.pk, amount="40")
    api_client.get("/api/v1/payments")  # warm-up: the key's last use is written once
    one = count()
    for email in ("two@example.com", "three@example.com"):
        reg = register(paid_event, email)
        payment_record(org=org, actor=None, registration_id=reg.pk, amount="40")

    assert count() == one


def test_get_a_payment(api_client, payment):
    response = api_client.get(f"/api/v1/payments/{payment.pk}")

    assert response.status_code == 200
    assert response.json() == snapshots.payment_data(Payment.objects.get(pk=payment.pk))


def test_list_payments_never_shows_another_organizations(api_client, other_org, payment):
    event = make_event(other_org, publish=True, price=Decimal("9"))
    foreign = register(event, "x@example.com")
    payment_record(org=other_org, actor=None, registration_id=foreign.pk, amount="9")

    assert ids(api_client.get("/api/v1/payments")) == [payment.pk]


# --- Scopes and tenancy ---------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/payments", "payments:read"),
    ("get", "/api/v1/payments/{payment}", "payments:read"),
    ("post", "/api/v1/payments", "payments:write"),
    ("post", "/api/v1/payments/{payment}/refund", "payments:write"),
]


def _call(client, method: str, url: str, body: dict | None = None):
    if method == "get":
        return client.get(url)
    return client.post(url, body or {}, content_type=JSON)


@pytest.mark.parametrize(("method", "url", "scope"), ENDPOINTS)
def test_a_key_without_the_scope_gets_403(org, payment, pending, method, url, scope):
    _key, secret = api_key_create(org=org, actor=None, name="almost", scopes=[s for s in API_SCOPES if s != scope])

    response = _call(ApiClient(secret), method, url.format(payment=payment.pk), {"registrationId": pending.pk, "amount": "5"})

    error = assert_envelope(response, 403, "INSUFFICIENT_SCOPE")
    assert error["details"] == {"requiredScope": scope}
    assert Payment.objects.get().status == PaymentStatus.COMPLETED


@pytest.fixture
def foreign_payment(other_org):
    event = make_event(other_org, publish=True, price=Decimal("9"))
    reg = register(event, "x@example.com")
    return payment_record(org=other_org, actor=None, registration_id=reg.pk, amount="9")


@pytest.mark.parametrize(
    ("method", "url"), [("get", "/api/v1/payments/{payment}"), ("post", "/api/v1/payments/{payment}/refund")]
)
def test_another_organizations_payment_answers_404(api_client, foreign_payment, method, url):
    assert_envelope(_call(api_client, method, url.format(payment=foreign_payment.pk)), 404, "RESOURCE_NOT_FOUND")
    assert Payment.objects.get(pk=foreign_payment.pk).status == PaymentStatus.COMPLETED


def test_paying_another_organizations_registration_answers_404(api_client, foreign_payment):
    response = post_payment(api_client, registrationId=foreign_payment.registration_id, amount="9")

    assert_envelope(response, 404, "RESOURCE_NOT_FOUND")
    assert Payment.objects.count() == 1


def test_openapi_documents_every_payment_operation(api_client):
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]

    for method, url, _scope in ENDPOINTS:
        operation = paths[url.replace("{payment}", "{payment_id}")][method]
        assert operation["summary"]
        assert operation["description"]
        assert {"401", "403", "404", "422", "429"} <= set(operation["responses"])
    assert {"201", "409"} <= set(paths["/api/v1/payments"]["post"]["responses"])
