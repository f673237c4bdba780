"""Calendar files on the web: the public event, session and registration .ics, the organization's
subscribable feed, and the portal page that shows (and resets) the feed's address."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Organization
from accounts.permissions import org_view
from events import calendars, selectors
from events.models import Session

FEED_MAX_AGE = 900  # seconds: calendar apps poll; a reset token stops working within this delay


@require_GET
def event_calendar(request: HttpRequest, org_slug: str, event_slug: str) -> HttpResponse:
    event = selectors.event_public_get(org_slug=org_slug, event_slug=event_slug)
    return calendars.ics_response(calendars.event_ics_build(event=event), filename=calendars.event_filename(event))


@require_GET
def session_calendar(request: HttpRequest, org_slug: str, event_slug: str, session_id: int) -> HttpResponse:
    event = selectors.event_public_get(org_slug=org_slug, event_slug=event_slug)
    try:
        session = Session.objects.for_org(event.organization).filter(event=event).prefetch_related("speakers").get(pk=session_id)
    except Session.DoesNotExist:
        raise Http404("No such session") from None
    session.event = event
    content = calendars.session_ics_build(session=session)
    return calendars.ics_response(content, filename=calendars.event_filename(event, f"-session-{session.pk}"))


@require_GET
def registration_calendar(request: HttpRequest, org_slug: str, event_slug: str, code: str) -> HttpResponse:
    """The attendee's own calendar file, reached with the confirmation page's unguessable code."""
    event = selectors.event_public_get(org_slug=org_slug, event_slug=event_slug)
    registration = selectors.registration_public_get(event=event, code=code)
    registration.event = event
    content = calendars.registration_ics_build(registration=registration)
    return calendars.ics_response(content, filename=calendars.event_filename(event, "-registration"))


@require_GET
def organization_feed(request: HttpRequest, org_slug: str, token: str) -> HttpResponse:
    """``/calendar/<org>/<token>.ics``: any wrong token answers 404, like a missing organization."""
    org = Organization.objects.filter(slug=org_slug).first()
    if org is None or not secrets.compare_digest(org.calendar_token.encode(), token.encode()):
        raise Http404("No such calendar")
    response = calendars.ics_response(calendars.organization_feed_build(org=org), filename=f"{org.slug}.ics", download=False)
    response["Cache-Control"] = f"private, max-age={FEED_MAX_AGE}"
    return response


# --- Portal ---------------------------------------------------------------------------------------


@org_view("events.view")
@require_GET
def calendar_feed(request: HttpRequest) -> HttpResponse:
    org = request.organization
    return render(
        request,
        "events/calendar_feed.html",
        {
            "nav": "events",
            "webcal_url": calendars.feed_webcal_url(org),
            "https_url": calendars.site_url(calendars.feed_path(org)),
            "event_count": len(calendars.feed_events(org=org)),
        },
    )


@org_view("events.edit")
@require_POST
def calendar_feed_reset(request: HttpRequest) -> HttpResponse:
    calendars.calendar_feed_token_reset(org=request.organization, actor=request.user)
    messages.success(request, "The calendar feed has a new address: the old one no longer works. Share the new one.")
    return redirect("events:calendar-feed", request.organization.slug)
