"""Background work of the events app (django-q2). Each task takes ids and is safe to run twice."""

from __future__ import annotations

import logging

from events import emails, tickets
from events.models import Registration, RegistrationStatus

logger = logging.getLogger("convene.events")


def registration_confirmed_task(registration_id: int) -> None:
    """Render the ticket, then send the confirmation e-mail (PDF and .ics attached)."""
    tickets.tickets_refresh([registration_id])
    logger.debug("registration %s confirmed", registration_id)
    emails.confirmation_send(registration_id=registration_id)


def registration_changed_task(registration_id: int) -> None:
    """Re-render the ticket."""
    tickets.tickets_refresh([registration_id])
    logger.debug("registration %s changed", registration_id)


def registration_cancelled_task(registration_id: int) -> None:
    """Send the cancellation e-mail."""
    tickets.ticket_discard(registration_id)  # a cancelled registration keeps no ticket to download
    logger.debug("registration %s cancelled", registration_id)
    emails.cancellation_send(registration_id=registration_id)


def event_changed_task(event_id: int, sequence: int) -> None:
    """Re-render the event's tickets; tell its attendees with the updated .ics (once per sequence)."""
    tickets.tickets_refresh(
        Registration.objects.filter(event_id=event_id, status=RegistrationStatus.CONFIRMED).values_list("pk", flat=True)
    )
    logger.debug("event %s changed (sequence %s)", event_id, sequence)
    emails.event_changed_send(event_id=event_id, sequence=sequence)


def session_changed_task(session_id: int) -> None:
    """Re-render the tickets of the attendees who chose this session."""
    tickets.tickets_refresh(
        Registration.objects.filter(session_links__session_id=session_id, status=RegistrationStatus.CONFIRMED).values_list(
            "pk", flat=True
        )
    )
    logger.debug("session %s changed", session_id)


def export_tickets_pdf_task(job_id: int) -> None:
    """All tickets of an event as one PDF, with progress."""
    from events.exports import export_tickets_pdf_run

    export_tickets_pdf_run(job_id=job_id)


def reminders_send_task() -> None:
    """Every 15 minutes: remind confirmed attendees of events starting within 24 hours (once each)."""
    sent = emails.reminders_send()
    logger.debug("%s reminders sent", sent)
