"""Attendee-facing pages: /e/<org_slug>/<event_slug>/."""

from django.urls import path

from events.views import calendars, public

app_name = "public"

urlpatterns = [
    path("<slug:org_slug>/<slug:event_slug>/", public.event_page, name="event"),
    path("<slug:org_slug>/<slug:event_slug>/registered/<str:code>/", public.registration_done, name="registration-done"),
    path("<slug:org_slug>/<slug:event_slug>/ticket/<str:token>/", public.ticket_download, name="ticket"),
    path("<slug:org_slug>/<slug:event_slug>/calendar.ics", calendars.event_calendar, name="event-calendar"),
    path(
        "<slug:org_slug>/<slug:event_slug>/sessions/<int:session_id>/calendar.ics",
        calendars.session_calendar,
        name="session-calendar",
    ),
    path(
        "<slug:org_slug>/<slug:event_slug>/registered/<str:code>/calendar.ics",
        calendars.registration_calendar,
        name="registration-calendar",
    ),
]
