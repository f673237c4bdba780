"""What attendees get after a change commits: tickets rendered, e-mails sent, calendars refreshed.

Services call these inside their transaction; the work is queued only once the change is committed,
so a rolled-back change renders and sends nothing. Each task reloads what it needs by id and is safe
to run twice (tickets compare a digest, e-mails are recorded in ``SentEmail``).
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django_q.tasks import async_task

from events.models import Event, Registration, Session


def _after_commit(task: str, *args: object) -> None:
    # robust: a queue hiccup must not turn a committed change into an error; the download path
    # renders a missing ticket on demand, and the reminder schedule re-checks what was sent
    transaction.on_commit(partial(async_task, task, *args), robust=True)


def registration_confirmed(reg: Registration) -> None:
    """A seat is confirmed: render the ticket, then send the confirmation with the PDF and the .ics."""
    _after_commit("events.tasks.registration_confirmed_task", reg.pk)


def registration_changed(reg: Registration) -> None:
    """Name or chosen sessions changed: re-render the ticket (no e-mail)."""
    _after_commit("events.tasks.registration_changed_task", reg.pk)


def registration_cancelled(reg: Registration) -> None:
    _after_commit("events.tasks.registration_cancelled_task", reg.pk)


def event_changed(event: Event) -> None:
    """Date, place or status changed: re-render the event's tickets and tell its attendees."""
    _after_commit("events.tasks.event_changed_task", event.pk, event.sequence)


def session_changed(session: Session) -> None:
    """A session moved or was cancelled: re-render the tickets of the attendees who chose it."""
    _after_commit("events.tasks.session_changed_task", session.pk)
