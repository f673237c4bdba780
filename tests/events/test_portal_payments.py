"""The registrations table's "Record payment" action for registrations pending payment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEntry, Role
from events import services
from events.models import Payment, PaymentStatus, Registration, RegistrationStatus
from events.services_payments import payment_record
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_event(org):
    return make_event(org, publish=True, price=Decimal("40.00"))


@pytest.fixture
def pending(org, paid_event):
    return services.registration_create(
        org=org, actor=None, ticket_type_id=paid_event.ticket_types.get().pk, name="Pat Payer", email="pat@example.com"
    )


def payment_url(org, reg) -> str:
    return reverse("events:registration-payment", args=[org.slug, reg.event_id, reg.pk])


def list_url(org, event) -> str:
    return reverse("events:registration-list", args=[org.slug, event.pk])


def test_pending_rows_offer_record_payment_to_organizers(org, organizer_client, paid_event, pending):
    services.registration_create(
        org=org, actor=None, ticket_type_id=paid_event.ticket_types.get().pk, name="Other", email="other@example.com"
    )
    services.registration_confirm(org=org, actor=None, registration_id=pending.pk)

    html = organizer_client.get(list_url(org, paid_event)).content.decode()

    assert html.count('data-testid="record-payment"') == 1  # only the pending one
    assert "Record payment" in html


def test_viewers_see_no_record_payment_action(org, paid_event, pending):
    viewer = logged_in_client(make_member(org, Role.VIEWER))

    html = viewer.get(list_url(org, paid_event)).content.decode()

    assert 'data-testid="record-payment"' not in html
    assert viewer.get(payment_url(org, pending)).status_code == 403


def test_the_form_offers_the_amount_still_due(org, organizer_client, pending):
    payment_record(org=org, actor=None, registration_id=pending.pk, amount="15")

    response = organizer_client.get(payment_url(org, pending))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="25.00"' in html
    assert "25.00 EUR" in html


def test_recording_the_full_amount_confirms_the_registration(org, pending):
    organizer = make_member(org, Role.ORGANIZER)
    client = logged_in_client(organizer)

    response = client.post(payment_url(org, pending), {"amount": "40.00", "reference": "Cash at the door"}, follow=True)

    assert response.redirect_chain[-1][0] == list_url(org, pending.event)
    payment = Payment.objects.get(registration=pending)
    assert (payment.amount, payment.status, payment.reference) == (Decimal("40.00"), PaymentStatus.COMPLETED, "Cash at the door")
    assert Registration.objects.get(pk=pending.pk).status == RegistrationStatus.CONFIRMED
    assert "Payment recorded for Pat Payer. The registration is confirmed." in response.content.decode()
    assert AuditEntry.objects.get(action="events.payment.completed").actor == organizer


def test_an_invalid_amount_shows_the_error_and_records_nothing(org, organizer_client, pending):
    response = organizer_client.post(payment_url(org, pending), {"amount": "0"})

    assert response.status_code == 200
    assert 'id="field-amount"' in response.content.decode()
    assert "has-error" in response.content.decode()
    assert Payment.objects.count() == 0


def test_a_confirmed_registration_has_nothing_to_record(org, organizer_client, pending):
    services.registration_confirm(org=org, actor=None, registration_id=pending.pk)

    response = organizer_client.post(payment_url(org, pending), {"amount": "40"})

    assert response.status_code == 200
    assert "there is no payment to record" in response.content.decode()
    assert Payment.objects.count() == 0


def test_another_events_registration_answers_404(org, organizer_client, pending):
    elsewhere = make_event(org, publish=True)
    url = reverse("events:registration-payment", args=[org.slug, elsewhere.pk, pending.pk])

    assert organizer_client.post(url, {"amount": "40"}).status_code == 404
    assert Payment.objects.count() == 0
