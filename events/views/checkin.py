"""The check-in desk: pick an event, find the attendee (or scan the code), check them in."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import org_view
from events import selectors, services, tickets
from events.models import Event, Registration
from events.views.common import current_event, paginate
from portal.errors import DomainError

DESK = "events/checkin_desk.html"


@org_view("checkin.perform")
@require_GET
@vary_on_headers("HX-Request")
def checkin_index(request: HttpRequest) -> HttpResponse:
    """Published events running now or still to come, today's first, with their check-in progress."""
    now = timezone.now()
    page = paginate(request, selectors.checkin_event_list(org=request.organization, now=now), 25)
    for event in page:
        event.is_running = event.starts_at <= now
        event.is_today = timezone.localdate(event.starts_at, event.tz) == timezone.localdate(now, event.tz)
        event.rate = round(100 * event.checked_in / event.expected) if event.expected else 0
    template = "events/checkin_index.html"
    if request.htmx and not request.htmx.boosted:
        template += "#checkin-events"
    return render(request, template, {"nav": "checkin", "page": page, "query": ""})


@org_view("checkin.perform")
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def checkin_desk(request: HttpRequest, event_id: int) -> HttpResponse:
    """GET searches (live, as the staff types). POST is Enter in the search box: a full ticket code
    (what a hardware scanner types) checks that attendee in at once; anything else just searches."""
    org = request.organization
    event = current_event(request, event_id)
    if request.method == "POST":
        return _desk_scan(request, event)
    query = request.GET.get("q", "").strip()
    results = selectors.checkin_search(org=org, event=event, query=query)
    context = {"event": event, "q": query, "results": results}
    if request.htmx and not request.htmx.boosted:
        return _render(request, f"{DESK}#checkin-results", context)
    context.update({"nav": "checkin", "tab": "checkin", "stats": selectors.checkin_stats(org=org, event=event)})
    return _render(request, DESK, context)


def _desk_scan(request: HttpRequest, event: Event) -> HttpResponse:
    org = request.organization
    query = request.POST.get("q", "").strip()
    flash = None
    if tickets.is_token(query):  # a hardware scanner typed the ticket's QR code
        reg, flash = _token_checkin(request, event, query)
        results = [reg] if reg is not None else []
        query = ""  # a token is no search: the box is emptied for the next scan whatever the answer
    elif (reg := selectors.registration_by_code(org=org, event=event, code=query)) is not None:
        reg, flash = _checkin(request, event, reg.pk)
        results = [reg]
    else:
        results = selectors.checkin_search(org=org, event=event, query=query)
    if not request.htmx:
        if flash:
            (messages.success if flash["ok"] else messages.error)(request, flash["text"])
        return _back_to_desk(request, event, query)
    # After a successful check-in the box is emptied for the next attendee; otherwise the text stays
    # (selected, so the next scan replaces it).
    context = {
        "event": event,
        "results": results,
        "flash": flash,
        "q": "" if flash and flash["ok"] else query,
        "stats": selectors.checkin_stats(org=org, event=event),
    }
    return _render(request, f"{DESK}#checkin-scan", context, oob_partials=["checkin-counters"])


@org_view("checkin.perform")
def checkin_perform(request: HttpRequest, event_id: int, registration_id: int) -> HttpResponse:
    """The "Check in" button of one result row. Answers with the row, the counters and the flash."""
    org = request.organization
    event = current_event(request, event_id)
    reg = selectors.registration_get(org=org, registration_id=registration_id)
    if reg.event_id != event.pk:
        raise Http404("No such registration for this event")
    if request.method != "POST":  # after the lookups: another tenant's ids are a 404 whatever the method
        return HttpResponseNotAllowed(["POST"])
    reg, flash = _checkin(request, event, reg.pk)
    query = request.POST.get("q", "").strip()
    if not request.htmx:
        (messages.success if flash["ok"] else messages.error)(request, flash["text"])
        return _back_to_desk(request, event, query)
    context = {
        "event": event,
        "r": reg,
        "flash": flash,
        "q": query,
        "stats": selectors.checkin_stats(org=org, event=event),
    }
    return _render(request, f"{DESK}#checkin-row", context, oob_partials=["checkin-counters", "checkin-flash", "checkin-query"])


def _checkin(request: HttpRequest, event: Event, registration_id: int) -> tuple[Registration, dict[str, Any]]:
    """Check one registration in; return it as it now is, and what to tell the person at the desk."""
    org = request.organization
    try:
        services.checkin_perform(org=org, actor=request.user, registration_id=registration_id)
    except DomainError as exc:
        error = exc.message
    else:
        error = None
    reg = selectors.registration_get(org=org, registration_id=registration_id)
    if error:
        reg.checkin_error = error
        return reg, {"ok": False, "text": f"{reg.name}: {error}"}
    time = timezone.localtime(reg.checkin.checked_in_at, event.tz).strftime("%H:%M")
    return reg, {"ok": True, "text": f"{reg.name} checked in at {time} · {reg.ticket_type.name}"}


def _token_checkin(request: HttpRequest, event: Event, token: str) -> tuple[Registration | None, dict[str, Any]]:
    """Check in the ticket whose QR token was scanned; a forged, damaged or other event's ticket says so."""
    try:
        registration_id, code = tickets.token_verify(event, token)
    except DomainError as exc:
        return None, {"ok": False, "text": exc.message}
    reg = Registration.objects.for_org(request.organization).filter(pk=registration_id, event=event, code=code).first()
    if reg is None:
        return None, {"ok": False, "text": "This ticket is not valid any more."}
    return _checkin(request, event, reg.pk)


def _render(request: HttpRequest, template: str, context: dict[str, Any], oob_partials: tuple | list = ()) -> HttpResponse:
    """Render in the event's time zone; ``oob_partials`` are appended for htmx to swap out of band."""
    with timezone.override(context["event"].tz):
        response = render(request, template, context)
        for name in oob_partials:
            response.content += render_to_string(f"{DESK}#{name}", {**context, "oob": True}, request=request).encode()
    return response


def _back_to_desk(request: HttpRequest, event: Event, query: str) -> HttpResponse:
    url = reverse("events:checkin-desk", args=[request.organization.slug, event.pk])
    return redirect(f"{url}?{urlencode({'q': query})}" if query else url)
