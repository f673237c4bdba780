"""Organizer portal URLs, all under /o/<org_slug>/ (the slug is resolved by accounts.permissions.org_view)."""

from django.urls import path

from events.views import (
    calendars,
    checkin,
    dashboard,
    emails,
    events,
    exports,
    payments,
    registrations,
    sessions,
    tickets,
)

app_name = "events"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("events/", events.event_list, name="event-list"),
    path("events/new/", events.event_create, name="event-create"),
    path("events/<int:event_id>/", events.event_detail, name="event-detail"),
    path("events/<int:event_id>/edit/", events.event_edit, name="event-edit"),
    path("events/<int:event_id>/publish/", events.event_publish, name="event-publish"),
    path("events/<int:event_id>/cancel/", events.event_cancel, name="event-cancel"),
    path("events/<int:event_id>/sessions/", sessions.session_list, name="session-list"),
    path("events/<int:event_id>/sessions/new/", sessions.session_create, name="session-create"),
    path("events/<int:event_id>/sessions/<int:session_id>/", sessions.session_row, name="session-row"),
    path("events/<int:event_id>/sessions/<int:session_id>/edit/", sessions.session_edit, name="session-edit"),
    path("events/<int:event_id>/sessions/<int:session_id>/cancel/", sessions.session_cancel, name="session-cancel"),
    path("speakers/new/", sessions.speaker_create, name="speaker-create"),
    path("events/<int:event_id>/tickets/", tickets.ticket_type_list, name="tickettype-list"),
    path("events/<int:event_id>/tickets/new/", tickets.ticket_type_create, name="tickettype-create"),
    path("events/<int:event_id>/tickets/<int:ticket_type_id>/edit/", tickets.ticket_type_edit, name="tickettype-edit"),
    path("events/<int:event_id>/registrations/", registrations.registration_list, name="registration-list"),
    path("events/<int:event_id>/registrations/export.csv", registrations.registration_export, name="registration-export"),
    path("events/<int:event_id>/registrations/bulk/", registrations.registration_bulk, name="registration-bulk"),
    path(
        "events/<int:event_id>/registrations/<int:registration_id>/payment/",
        payments.registration_payment,
        name="registration-payment",
    ),
    path("calendar-feed/", calendars.calendar_feed, name="calendar-feed"),
    path("calendar-feed/reset/", calendars.calendar_feed_reset, name="calendar-feed-reset"),
    path("emails/", emails.email_list, name="email-list"),
    path("emails/<str:kind>/", emails.email_edit, name="email-edit"),
    path("emails/<str:kind>/preview/", emails.email_preview, name="email-preview"),
    path("emails/<str:kind>/reset/", emails.email_reset, name="email-reset"),
    path(
        "events/<int:event_id>/registrations/<int:registration_id>/ticket.pdf",
        exports.registration_ticket,
        name="registration-ticket",
    ),
    path("events/<int:event_id>/exports/tickets/", exports.export_tickets_create, name="export-tickets"),
    path("exports/<int:job_id>/", exports.export_detail, name="export-detail"),
    path("exports/<int:job_id>/download/", exports.export_download, name="export-download"),
    path("checkin/", checkin.checkin_index, name="checkin-index"),
    path("events/<int:event_id>/checkin/", checkin.checkin_desk, name="checkin-desk"),
    path("events/<int:event_id>/checkin/<int:registration_id>/", checkin.checkin_perform, name="checkin-perform"),
]
