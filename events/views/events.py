from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.permissions import org_view
from events import selectors, services
from events.forms import EventCancelForm, EventForm, apply_domain_error
from events.models import EventStatus
from events.views.common import current_event, paginate, query_without_page
from portal.errors import DomainError

SORT_COLUMNS = [("title", "Title"), ("starts", "Date"), ("registrations", "Registrations")]


@org_view("events.view")
@vary_on_headers("HX-Request")
def event_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "starts")
    if sort not in selectors.EVENT_SORTS:
        sort = "starts"
    page = paginate(request, selectors.event_list(org=request.organization, search=search, status=status, sort=sort), 20)
    template = "events/event_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#event-table"
    return render(
        request,
        template,
        {
            "nav": "events",
            "page": page,
            "q": search,
            "status": status,
            "sort": sort,
            "statuses": EventStatus.choices,
            "sort_columns": SORT_COLUMNS,
            "query": query_without_page(request),
        },
    )


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def event_create(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = EventForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.event_create(org=org, actor=request.user, **form.service_fields())
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"“{event.title}” was created as a draft. Add ticket types, then publish it.")
            return redirect("events:event-detail", org.slug, event.pk)
    return render(request, "events/event_form.html", {"nav": "events", "form": form, "event": None})


@org_view("events.view")
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    org = request.organization
    event = current_event(request, event_id)
    return render(
        request,
        "events/event_detail.html",
        {
            "nav": "events",
            "tab": "overview",
            "event": event,
            "ticket_types": selectors.ticket_type_list(org=org, event=event),
            "stats": selectors.checkin_stats(org=org, event=event),
            "registration_count": selectors.registration_list(org=org, event=event)
            .filter(status__in=["confirmed", "pending_payment"])
            .count(),
            "session_count": event.sessions.count(),
            "public_url": request.build_absolute_uri(reverse("public:event", args=[org.slug, event.slug])),
        },
    )


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def event_edit(request: HttpRequest, event_id: int) -> HttpResponse:
    org = request.organization
    event = current_event(request, event_id)
    form = EventForm(request.POST or None, instance=event, org=org)
    if request.method == "POST" and form.is_valid():
        try:
            services.event_update(org=org, actor=request.user, event_id=event.pk, **form.service_fields())
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, "Changes saved.")
            return redirect("events:event-detail", org.slug, event.pk)
    return render(request, "events/event_form.html", {"nav": "events", "tab": "edit", "form": form, "event": event})


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def event_publish(request: HttpRequest, event_id: int) -> HttpResponse:
    """GET asks for confirmation; POST publishes."""
    org = request.organization
    event = current_event(request, event_id)
    error = None
    if request.method == "POST":
        try:
            services.event_publish(org=org, actor=request.user, event_id=event.pk)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, f"“{event.title}” is published: registration is open.")
            url = reverse("events:event-detail", args=[org.slug, event.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return render(
        request,
        "events/event_publish.html",
        {
            "nav": "events",
            "event": event,
            "error": error,
            "ticket_types": selectors.ticket_type_list(org=org, event=event),
        },
    )


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def event_cancel(request: HttpRequest, event_id: int) -> HttpResponse:
    """A reason and an explicit confirmation, then the event is cancelled."""
    org = request.organization
    event = current_event(request, event_id)
    form = EventCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.event_cancel(org=org, actor=request.user, event_id=event.pk, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"“{event.title}” is cancelled.")
            return redirect("events:event-detail", org.slug, event.pk)
    return render(request, "events/event_cancel.html", {"nav": "events", "event": event, "form": form})
