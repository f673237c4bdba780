"""The registrations table of one event: filters, bulk confirm / cancel and the CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import org_view
from events import selectors, services
from events.models import Event, Registration, RegistrationStatus
from events.views.common import current_event, paginate, query_without_page
from portal.csv_safe import BOM, Line, safe_cell
from portal.errors import DomainError

PER_PAGE = 50
CHECKED_IN_CHOICES = [("yes", "Checked in"), ("no", "Not checked in")]
CSV_HEADER = ["Name", "E-mail", "Ticket type", "Status", "Code", "Registered at", "Checked in at"]
BULK_DONE = {"confirm": "Confirmed", "cancel": "Cancelled"}


def _filters(params: QueryDict) -> dict[str, Any]:
    """The table's filters as the URL carries them; anything malformed counts as "not filtered"."""
    status = params.get("status", "")
    ticket_type = params.get("ticket_type", "")
    checked_in = params.get("checked_in", "")
    return {
        "search": params.get("q", "").strip(),
        "status": status if status in RegistrationStatus.values else "",
        "ticket_type_id": int(ticket_type) if ticket_type.isdigit() else None,
        "checked_in": checked_in if checked_in in {"yes", "no"} else "",
    }


def _table_context(request: HttpRequest, event: Event, **extra: Any) -> dict[str, Any]:
    filters = _filters(request.GET)
    qs = selectors.registration_list(org=request.organization, event=event, **filters)
    query = query_without_page(request)
    page = paginate(request, qs, PER_PAGE)
    return {
        "nav": "events",
        "tab": "registrations",
        "event": event,
        "page": page,
        "query": query,
        "q": filters["search"],
        "status": filters["status"],
        "ticket_type": filters["ticket_type_id"],
        "checked_in": filters["checked_in"],
        "filtered": any(filters.values()),
        "bulk_url": _with_query(
            reverse("events:registration-bulk", args=[request.organization.slug, event.pk]), query, page.number
        ),
        "export_url": _with_query(reverse("events:registration-export", args=[request.organization.slug, event.pk]), query),
        **extra,
    }


def _with_query(url: str, query: str, page: int | None = None) -> str:
    parts = [p for p in (query, f"page={page}" if page and page > 1 else "") if p]
    return f"{url}?{'&'.join(parts)}" if parts else url


def _render_table(request: HttpRequest, event: Event, **extra: Any) -> HttpResponse:
    with timezone.override(event.tz):
        return render(request, "events/registration_list.html#registration-table", _table_context(request, event, **extra))


@org_view("registrations.view")
@require_GET
@vary_on_headers("HX-Request")
def registration_list(request: HttpRequest, event_id: int) -> HttpResponse:
    event = current_event(request, event_id)
    if request.htmx and not request.htmx.boosted:
        return _render_table(request, event)
    context = _table_context(request, event)
    context.update(
        {
            "statuses": RegistrationStatus.choices,
            "ticket_types": selectors.ticket_type_list(org=request.organization, event=event),
            "checked_in_choices": CHECKED_IN_CHOICES,
        }
    )
    with timezone.override(event.tz):
        return render(request, "events/registration_list.html", context)


@org_view("registrations.edit")
def registration_bulk(request: HttpRequest, event_id: int) -> HttpResponse:
    """Confirm or cancel the ticked rows; the filters of the table travel in the query string."""
    org = request.organization
    event = current_event(request, event_id)  # first: another tenant's event is a 404 whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    action = request.POST.get("action", "")
    selected = {int(v) for v in request.POST.getlist("ids") if v.isdigit()}
    # Only this event's registrations: anything else counts as skipped, never touched.
    own = set(selectors.registration_list(org=org, event=event).filter(pk__in=selected).values_list("pk", flat=True))
    message = error = ""
    if not selected:
        error = "Select at least one registration first: tick the boxes in the first column."
    elif action not in BULK_DONE:
        error = "Choose whether to confirm or to cancel the selected registrations."
    else:
        try:
            result = (
                services.registrations_bulk_update(org=org, actor=request.user, registration_ids=own, action=action)
                if own
                else {"changed": 0, "skipped": 0}
            )
        except DomainError as exc:
            error = exc.message
        else:
            message = _bulk_message(action, result["changed"], result["skipped"] + len(selected - own))
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, message)
        url = reverse("events:registration-list", args=[org.slug, event.pk])
        return redirect(_with_query(url, query_without_page(request), _page_number(request)))
    return _render_table(request, event, bulk_message=message, bulk_error=error)


def _page_number(request: HttpRequest) -> int | None:
    page = request.GET.get("page", "")
    return int(page) if page.isdigit() else None


def _bulk_message(action: str, changed: int, skipped: int) -> str:
    done = ngettext("%(verb)s %(n)d registration.", "%(verb)s %(n)d registrations.", changed) % {
        "verb": BULK_DONE[action],
        "n": changed,
    }
    if not skipped:
        return done
    reason = "already confirmed or cancelled" if action == "confirm" else "already cancelled"
    return f"{done} {skipped} skipped ({reason})."


@org_view("registrations.view")
@require_GET
def registration_export(request: HttpRequest, event_id: int) -> StreamingHttpResponse:
    """Every row the current filters show (all pages), as a CSV file that spreadsheets open safely."""
    event = current_event(request, event_id)
    qs = selectors.registration_list(org=request.organization, event=event, **_filters(request.GET))
    response = StreamingHttpResponse(_csv_lines(qs, event), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{event.slug}-registrations.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _csv_lines(qs, event: Event) -> Iterator[str]:
    writer = csv.writer(Line())
    yield BOM + writer.writerow(CSV_HEADER)
    for reg in qs.iterator(chunk_size=1000):
        yield writer.writerow([safe_cell(value) for value in _csv_row(reg, event)])


def _csv_row(reg: Registration, event: Event) -> list[str]:
    checkin = getattr(reg, "checkin", None)
    return [
        reg.name,
        reg.email,
        reg.ticket_type.name,
        reg.get_status_display(),
        reg.code,
        _local(reg.created_at, event),
        _local(checkin.checked_in_at, event) if checkin else "",
    ]


def _local(value: datetime, event: Event) -> str:
    return timezone.localtime(value, event.tz).strftime("%Y-%m-%d %H:%M")
