"""The ticket types of one event: what is for sale, how many seats are left, and their forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from accounts.permissions import org_view
from events import selectors, services
from events.forms import TicketTypeForm, apply_domain_error
from events.models import Event
from events.views.common import current_event
from portal.errors import DomainError

FORM_TEMPLATE = "events/tickettype_form.html"


def _render(request: HttpRequest, template: str, context: dict[str, Any], *, event: Event) -> HttpResponse:
    """Render with times shown in the event's time zone."""
    with timezone.override(event.tz):
        return render(request, template, {"nav": "events", "tab": "tickets", "event": event, **context})


def _list_url(event: Event) -> str:
    return reverse("events:tickettype-list", args=[event.organization.slug, event.pk])


@org_view("events.view")
@require_safe
def ticket_type_list(request: HttpRequest, event_id: int) -> HttpResponse:
    event = current_event(request, event_id)
    # ticket_type_list aggregates (seats taken), and an aggregate query drops Meta.ordering: sort here.
    ticket_types = sorted(selectors.ticket_type_list(org=request.organization, event=event), key=lambda t: (t.position, t.pk))
    return _render(request, "events/tickettype_list.html", {"ticket_types": ticket_types, "now": timezone.now()}, event=event)


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def ticket_type_create(request: HttpRequest, event_id: int) -> HttpResponse:
    org = request.organization
    event = current_event(request, event_id)
    form = TicketTypeForm(request.POST or None, event=event)
    if request.method == "POST" and form.is_valid():
        try:
            tt = services.ticket_type_create(org=org, actor=request.user, event_id=event.pk, **form.service_fields())
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Ticket type “{tt.name}” added.")
            return redirect(_list_url(event))
    return _render(request, FORM_TEMPLATE, {"form": form, "ticket_type": None}, event=event)


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def ticket_type_edit(request: HttpRequest, event_id: int, ticket_type_id: int) -> HttpResponse:
    org = request.organization
    event = current_event(request, event_id)
    ticket_type = selectors.ticket_type_get(org=org, ticket_type_id=ticket_type_id)
    if ticket_type.event_id != event.pk:
        raise Http404("No such ticket type in this event")
    form = TicketTypeForm(request.POST or None, instance=ticket_type, event=event)
    if request.method == "POST" and form.is_valid():
        try:
            tt = services.ticket_type_update(org=org, actor=request.user, ticket_type_id=ticket_type.pk, **form.service_fields())
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Ticket type “{tt.name}” saved.")
            return redirect(_list_url(event))
    return _render(request, FORM_TEMPLATE, {"form": form, "ticket_type": ticket_type}, event=event)
