"""Background work of the events app (django-q2). Each task takes ids and is safe to run twice."""

from __future__ import annotations

import logging

logger = logging.getLogger("convene.events")


def registration_confirmed_task(registration_id: int) -> None:
    """Render the ticket, then send the confirmation e-mail (PDF and .ics attached)."""
    logger.debug("registration %s confirmed", registration_id)


def registration_changed_task(registration_id: int) -> None:
    """Re-render the ticket."""
    logger.debug("registration %s changed", registration_id)


def registration_cancelled_task(registration_id: int) -> None:
    """Send the cancellation e-mail."""
    logger.debug("registration %s cancelled", registration_id)


def event_changed_task(event_id: int, sequence: int) -> None:
    """Re-render the event's tickets; tell its attendees with the updated .ics (once per sequence)."""
    logger.debug("event %s changed (sequence %s)", event_id, sequence)


def session_changed_task(session_id: int) -> None:
    """Re-render the tickets of the attendees who chose this session."""
    logger.debug("session %s changed", session_id)
