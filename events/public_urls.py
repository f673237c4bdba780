"""Attendee-facing pages: /e/<org_slug>/<event_slug>/."""

from django.urls import path

from events.views import public

app_name = "public"

urlpatterns = [
    path("<slug:org_slug>/<slug:event_slug>/", public.event_page, name="event"),
    path("<slug:org_slug>/<slug:event_slug>/registered/<str:code>/", public.registration_done, name="registration-done"),
]
