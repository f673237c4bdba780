"""The sessions of one event, by day: added, edited and cancelled inline with HTMX, with full-page fallbacks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import reswap, retarget

from accounts.permissions import has_perm, org_view
from events import selectors, services
from events.forms import SessionForm, SpeakerForm, apply_domain_error
from events.models import Event, Session
from events.views.common import current_event
from portal.errors import DomainError

TEMPLATE = "events/session_list.html"
FORM_TEMPLATE = "events/session_form.html"
SPEAKER_TEMPLATE = "events/session_speaker_form.html"


def _render(request: HttpRequest, template: str, context: dict[str, Any], *, event: Event) -> HttpResponse:
    """Render with times shown (and typed) in the event's time zone."""
    with timezone.override(event.tz):
        return render(request, template, {"nav": "events", "tab": "sessions", "event": event, **context})


def _render_string(request: HttpRequest, template: str, context: dict[str, Any], *, event: Event) -> str:
    with timezone.override(event.tz):
        return render_to_string(template, {"nav": "events", "tab": "sessions", "event": event, **context}, request)


def _list_url(event: Event) -> str:
    return reverse("events:session-list", args=[event.organization.slug, event.pk])


def _event_and_session(request: HttpRequest, event_id: int, session_id: int) -> tuple[Event, Session]:
    """The event and one of its sessions, both the caller's organization's (anything else: 404)."""
    event = current_event(request, event_id)
    session = selectors.session_get(org=request.organization, session_id=session_id)
    if session.event_id != event.pk:
        raise Http404("No such session in this event")
    return event, session


def _listed(request: HttpRequest, event: Event, session_id: int) -> Session:
    """One session as the list shows it: seats taken, speakers."""
    for session in selectors.session_list(org=request.organization, event=event):
        if session.pk == session_id:
            return session
    raise Http404("No such session in this event")


def _add_form(request: HttpRequest, event: Event, data=None) -> SessionForm:
    """The add form, starting at the event's start for an hour (or until the event ends)."""
    initial = {"starts_at": event.starts_at, "ends_at": min(event.starts_at + timedelta(hours=1), event.ends_at)}
    return SessionForm(data, org=request.organization, event=event, initial=initial, auto_id="new-session_%s")


def _edit_form(request: HttpRequest, event: Event, session: Session, data=None) -> SessionForm:
    # Same field names as the add form (so a new speaker can be offered to every open form), distinct ids.
    return SessionForm(data, instance=session, org=request.organization, event=event, auto_id=f"session-{session.pk}_%s")


def _speaker_form(data=None) -> SpeakerForm:
    form = SpeakerForm(data, prefix="speaker")
    form.fields["bio"].widget.attrs["rows"] = 2
    return form


def _in_order(sessions: list[Session]) -> list[Session]:
    # session_list aggregates (seats taken), and an aggregate query drops Meta.ordering: sort here.
    return sorted(sessions, key=lambda s: (s.starts_at, s.room, s.pk))


def _days_context(request: HttpRequest, event: Event) -> dict[str, Any]:
    days = [(day, _in_order(sessions)) for day, sessions in selectors.sessions_by_day(org=request.organization, event=event)]
    return {"days": days, "session_count": sum(len(sessions) for _, sessions in days)}


@org_view("events.view")
@require_safe
def session_list(request: HttpRequest, event_id: int) -> HttpResponse:
    event = current_event(request, event_id)
    context = _days_context(request, event)
    if has_perm(request.membership.role, "events.edit") and not event.is_cancelled:
        context.update(form=_add_form(request, event), speaker_form=_speaker_form(), next=_list_url(event))
    return _render(request, TEMPLATE, context, event=event)


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def session_create(request: HttpRequest, event_id: int) -> HttpResponse:
    org = request.organization
    event = current_event(request, event_id)
    form = _add_form(request, event, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_create(org=org, actor=request.user, event_id=event.pk, **form.service_fields())
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, f"Session “{session.title}” added.")
                return redirect(_list_url(event))
            # A fresh form with a confirmation, and the day tables (the new row in its place) out of band.
            fresh = _render_string(
                request, f"{TEMPLATE}#session-form", {"form": _add_form(request, event), "created": session}, event=event
            )
            days = _render_string(
                request, f"{TEMPLATE}#session-days", {**_days_context(request, event), "oob": True}, event=event
            )
            return HttpResponse(fresh + days)
    if request.htmx:
        return _render(request, f"{TEMPLATE}#session-form", {"form": form}, event=event)
    return _render(request, FORM_TEMPLATE, {"form": form, "session": None}, event=event)


@org_view("events.view")
@require_safe
def session_row(request: HttpRequest, event_id: int, session_id: int) -> HttpResponse:
    """The plain row (the edit form's Cancel comes back to it)."""
    event, session = _event_and_session(request, event_id, session_id)
    if not request.htmx:
        return redirect(f"{_list_url(event)}#session-{session.pk}")
    return _render(request, f"{TEMPLATE}#session-row", {"session": _listed(request, event, session.pk)}, event=event)


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def session_edit(request: HttpRequest, event_id: int, session_id: int) -> HttpResponse:
    """GET: the row as a form. POST: save, then the row again (or the form with the errors beside the fields)."""
    org = request.organization
    event, session = _event_and_session(request, event_id, session_id)
    starts_before = session.starts_at
    form = _edit_form(request, event, session, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.session_update(org=org, actor=request.user, session_id=session.pk, **form.service_fields())
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, f"Session “{updated.title}” saved.")
                return redirect(f"{_list_url(event)}#session-{session.pk}")
            if updated.starts_at != starts_before:
                # It may belong to another day or place now: redraw the day tables.
                response = _render(request, f"{TEMPLATE}#session-days", _days_context(request, event), event=event)
                return reswap(retarget(response, "#session-days"), "outerHTML")
            return _render(request, f"{TEMPLATE}#session-row", {"session": _listed(request, event, session.pk)}, event=event)
    if request.htmx:
        return _render(request, f"{TEMPLATE}#session-edit-row", {"session": session, "form": form}, event=event)
    return _render(request, FORM_TEMPLATE, {"form": form, "session": session}, event=event)


@org_view("events.edit")
@require_POST
def session_cancel(request: HttpRequest, event_id: int, session_id: int) -> HttpResponse:
    org = request.organization
    event, session = _event_and_session(request, event_id, session_id)
    error = None
    try:
        services.session_cancel(org=org, actor=request.user, session_id=session.pk)
    except DomainError as exc:
        error = exc.message
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"Session “{session.title}” cancelled.")
        return redirect(f"{_list_url(event)}#session-{session.pk}")
    return _render(
        request, f"{TEMPLATE}#session-row", {"session": _listed(request, event, session.pk), "error": error}, event=event
    )


def _safe_next(request: HttpRequest) -> str | None:
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return None


@org_view("events.edit")
@require_http_methods(["GET", "POST"])
def speaker_create(request: HttpRequest) -> HttpResponse:
    """A new speaker, added from the sessions page: it becomes selectable in the open session forms."""
    org = request.organization
    form = _speaker_form(request.POST or None)
    next_url = _safe_next(request)
    if request.method == "POST" and form.is_valid():
        try:
            speaker = services.speaker_create(org=org, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if request.htmx:
                return render(
                    request,
                    f"{TEMPLATE}#speaker-added",
                    {
                        "speaker_form": _speaker_form(),
                        "speaker": speaker,
                        "next": next_url,
                    },
                )
            messages.success(request, f"Speaker “{speaker.name}” added: choose them in a session's speakers.")
            return redirect(next_url or reverse("events:event-list", args=[org.slug]))
    if request.htmx:
        return render(request, f"{TEMPLATE}#speaker-form", {"speaker_form": form, "next": next_url})
    return render(request, SPEAKER_TEMPLATE, {"nav": "events", "speaker_form": form, "next": next_url})
