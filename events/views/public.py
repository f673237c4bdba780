"""Attendee-facing pages: the public event page with its registration form, and the confirmation page.

The event page is the hot path (registrations arrive in bursts): a constant, small number of queries —
the event with its organization, the ticket types with their seat counts, the sessions with their speakers.
A registration POST checks its form against lighter reads (no counts, no speakers) and loads the full page
data only when it has to show the form again.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from events import calendars, selectors, services, tickets
from events.forms import RegistrationForm, apply_domain_error
from events.models import Event, RegistrationStatus, TicketType
from portal.errors import Busy, DomainError

BUSY_MESSAGE = "Many people are registering right now: we are busy, please try again in a moment."


def _ticket_state(tt: TicketType, now: datetime) -> str:
    """Whether a ticket type can be chosen, or why not: open, sold_out, not_yet, ended."""
    if not tt.is_on_sale:
        return "not_yet" if tt.sales_start and tt.sales_start > now else "ended"
    if tt.seats_left == 0:
        return "sold_out"
    return "open"


def _closed_reason(event: Event, ticket_types: list[TicketType]) -> str:
    """Why nobody can register right now: cancelled, no_tickets, not_yet, sold_out or ended."""
    states = {tt.state for tt in ticket_types}
    if event.is_cancelled:
        return "cancelled"
    if not ticket_types:
        return "no_tickets"
    if "not_yet" in states:
        return "not_yet"
    if "sold_out" in states:
        return "sold_out"
    return "ended"


def _when(event: Event) -> dict:
    """The event's start and end on its own wall clock, for the hero header."""
    starts, ends = timezone.localtime(event.starts_at, event.tz), timezone.localtime(event.ends_at, event.tz)
    return {"starts_local": starts, "ends_local": ends, "same_day": starts.date() == ends.date()}


def _register(request: HttpRequest, event: Event) -> tuple[RegistrationForm, HttpResponse | None, int]:
    """Validate and submit the form with the cheapest data that can check it (no seat counts, no speakers).

    Returns the bound form, the redirect when the registration went through, and the status to answer otherwise.
    """
    org = event.organization
    ticket_types = selectors.ticket_type_sale_list(org=org, event=event)
    sessions = selectors.session_choice_list(org=org, event=event) if request.POST.getlist("sessions") else []
    form = RegistrationForm(request.POST, ticket_types=ticket_types, sessions=sessions)
    if not form.is_valid():
        return form, None, 200
    data = form.cleaned_data
    try:
        reg = services.registration_create(
            org=org,
            actor=None,
            ticket_type_id=data["ticket_type"],
            name=data["name"],
            email=data["email"],
            session_ids=data.get("sessions") or [],
        )
    except DomainError as exc:
        if exc.code == Busy.code:  # a lock wait timed out: nothing was saved, a retry will do
            form.add_error(None, BUSY_MESSAGE)
            return form, None, 409
        apply_domain_error(form, exc)
        return form, None, 200
    url = reverse("public:registration-done", args=[org.slug, event.slug, reg.code])
    if not getattr(reg, "created", True):
        url += "?again=1"
    return form, HttpResponseRedirect(url, status=303), 303


@require_http_methods(["GET", "POST"])
def event_page(request: HttpRequest, org_slug: str, event_slug: str) -> HttpResponse:
    event = selectors.event_public_get(org_slug=org_slug, event_slug=event_slug)
    org = event.organization
    form, status = None, 200
    # Even when every seat looks taken, a published event's POST reaches the service: a double-submitted form
    # must get its own (existing) registration back rather than "sold out".
    if request.method == "POST" and event.is_published:
        form, done, status = _register(request, event)
        if done is not None:
            return done

    now = timezone.now()
    ticket_types = selectors.ticket_type_list(org=org, event=event)
    days = selectors.sessions_by_day(org=org, event=event)
    sessions = [s for _day, day_sessions in days for s in day_sessions]
    for tt in ticket_types:
        tt.state = _ticket_state(tt, now)
    registration_open = event.is_published and any(tt.state == "open" for tt in ticket_types)
    if form is None:
        form = RegistrationForm(ticket_types=ticket_types, sessions=sessions)

    chosen_ticket = str(form["ticket_type"].value() or "")
    open_types = [tt for tt in ticket_types if tt.state == "open"]
    if not chosen_ticket and len(open_types) == 1:
        chosen_ticket = str(open_types[0].pk)
    chosen_sessions = {str(v) for v in (form["sessions"].value() or [])} if "sessions" in form.fields else set()
    response = render(
        request,
        "public/event.html",
        {
            "event": event,
            "org": org,
            "ticket_types": ticket_types,
            "days": days,
            "form": form,
            "registration_open": registration_open,
            "chosen_ticket": chosen_ticket,
            "chosen_sessions": chosen_sessions,
            "closed_reason": "" if registration_open else _closed_reason(event, ticket_types),
            "next_sales_start": min((tt.sales_start for tt in ticket_types if tt.state == "not_yet"), default=None),
            "has_sessions": any(not s.cancelled for s in sessions),
            "add_to_calendar": calendars.add_to_calendar(event, ics_path=calendars.event_calendar_path(event)),
            **_when(event),
        },
        status=status,
    )
    if status == 409:
        response["Retry-After"] = str(Busy.retry_after)
    return response


@require_GET
def registration_done(request: HttpRequest, org_slug: str, event_slug: str, code: str) -> HttpResponse:
    event = selectors.event_public_get(org_slug=org_slug, event_slug=event_slug)
    registration = selectors.registration_public_get(event=event, code=code)
    return render(
        request,
        "public/registration_done.html",
        {
            "event": event,
            "org": event.organization,
            "registration": registration,
            "sessions": list(registration.sessions.all()),
            "pending_payment": registration.status == RegistrationStatus.PENDING_PAYMENT,
            "cancelled": registration.status == RegistrationStatus.CANCELLED,
            "again": request.GET.get("again") == "1",
            "add_to_calendar": calendars.add_to_calendar(
                event, ics_path=calendars.registration_calendar_path(registration, event)
            ),
            "ticket_url": tickets.ticket_link_url(registration)
            if registration.status == RegistrationStatus.CONFIRMED and not event.is_cancelled
            else "",
            **_when(event),
        },
    )


@require_GET
def ticket_download(request: HttpRequest, org_slug: str, event_slug: str, token: str) -> HttpResponse:
    """The attendee's ticket (PDF), through the signed link of the confirmation page and e-mail."""
    event = selectors.event_public_get(org_slug=org_slug, event_slug=event_slug)
    registration = tickets.ticket_link_registration(event=event, value=token)
    try:
        pdf = tickets.registration_ticket_pdf(registration)
    except DomainError as exc:  # cancelled (410) or payment pending (409): say so plainly
        return render(
            request,
            "public/ticket_unavailable.html",
            {"event": event, "org": event.organization, "message": exc.message, **_when(event)},
            status=exc.status,
        )
    return tickets.pdf_response(pdf, filename=tickets.ticket_filename(registration))
