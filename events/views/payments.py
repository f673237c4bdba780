"""Recording a payment received outside the platform, from the registrations table."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.permissions import org_view
from events import selectors
from events.forms import PaymentRecordForm, apply_domain_error
from events.models import RegistrationStatus
from events.services_payments import payment_record, registration_paid_amount
from events.views.common import current_event
from portal.errors import DomainError


@org_view("payments.edit")
def registration_payment(request: HttpRequest, event_id: int, registration_id: int) -> HttpResponse:
    """The amount still due, prefilled; once paid in full the registration is confirmed."""
    org = request.organization
    event = current_event(request, event_id)
    reg = selectors.registration_list(org=org, event=event).filter(pk=registration_id).first()
    if reg is None:
        raise Http404("No such registration")
    price = reg.ticket_type.price
    due = max(price - registration_paid_amount(registration=reg), 0)
    form = PaymentRecordForm(request.POST or None, initial={"amount": due or None}, currency=reg.ticket_type.currency)
    blocked = ""
    if reg.status != RegistrationStatus.PENDING_PAYMENT:
        blocked = f"This registration is {reg.get_status_display().lower()}: there is no payment to record."
    elif request.method == "POST" and form.is_valid():
        try:
            payment_record(
                org=org,
                actor=request.user,
                registration_id=reg.pk,
                amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            reg.refresh_from_db(fields=["status"])
            confirmed = reg.status == RegistrationStatus.CONFIRMED
            messages.success(
                request,
                f"Payment recorded for {reg.name}." + (" The registration is confirmed." if confirmed else " Some is still due."),
            )
            return redirect("events:registration-list", org.slug, event.pk)
    context = {"nav": "events", "event": event, "registration": reg, "form": form, "price": price, "due": due, "blocked": blocked}
    return render(request, "events/registration_payment.html", context)
