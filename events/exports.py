"""Exports an organizer waits for: a job with progress (``done``/``total``), then a file to download.

"All tickets of an event as one PDF" lays the tickets out in batches (progress after each), then writes
every page into one document.
"""

from __future__ import annotations

import logging
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.models import Organization, User
from accounts.services import audit_log
from events import tickets
from events.errors import EventStateError
from events.models import Event, ExportJob, ExportStatus, Registration, RegistrationStatus

logger = logging.getLogger("convene.events")

TICKETS_PDF = "tickets_pdf"
#: tickets laid out between two progress updates
PROGRESS_STEP = 50


@transaction.atomic(durable=True)
def export_tickets_pdf_create(*, org: Organization, actor: User | None, event_id: int) -> ExportJob:
    """Queue "all tickets as one PDF" for an event. A job already waiting or running is returned instead of a
    second one (a double click queues one export)."""
    event = Event.objects.for_org(org).select_for_update().get(pk=event_id)
    if event.is_cancelled:
        raise EventStateError(_("This event is cancelled: its tickets are no longer valid."))
    pending = (
        ExportJob.objects.for_org(org)
        .filter(event=event, kind=TICKETS_PDF, status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING))
        .first()
    )
    if pending is not None:
        return pending
    job = ExportJob.objects.create(organization=org, event=event, kind=TICKETS_PDF, created_by=actor)
    audit_log(org=org, actor=actor, action="events.export.created", obj=job, changes={"kind": TICKETS_PDF})
    transaction.on_commit(partial(async_task, "events.tasks.export_tickets_pdf_task", job.pk), robust=True)
    return job


def _progress(job: ExportJob, **fields: object) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    ExportJob.objects.filter(pk=job.pk).update(**fields)


def export_tickets_pdf_run(*, job_id: int) -> ExportJob:
    """Render the job's tickets into one PDF, updating ``done`` as batches are laid out. Safe to run again:
    a finished job is left alone, an interrupted one starts over."""
    job = ExportJob.objects.select_related("event").get(pk=job_id)
    if job.status == ExportStatus.DONE:
        return job
    ids = list(
        Registration.objects.filter(event=job.event, status=RegistrationStatus.CONFIRMED)
        .order_by("name", "pk")
        .values_list("pk", flat=True)
    )
    _progress(job, status=ExportStatus.RUNNING, total=len(ids), done=0, error="")
    try:
        first, pages = None, []
        for start in range(0, len(ids), PROGRESS_STEP):
            datas = tickets.tickets_data(ids[start : start + PROGRESS_STEP])
            if datas:
                document = tickets.render_document(datas)
                first = first or document
                pages.extend(document.pages)
            _progress(job, done=min(start + PROGRESS_STEP, len(ids)))
        if first is not None:
            pdf = first.copy(pages).write_pdf()
            name = job.file.storage.save(
                job.file.field.generate_filename(job, f"tickets-{job.event.slug}-{job.pk}.pdf"), ContentFile(pdf)
            )
            job.file.name = name
            _progress(job, file=name)
        _progress(job, status=ExportStatus.DONE, done=len(ids), finished_at=timezone.now())
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        _progress(job, status=ExportStatus.FAILED, error=str(exc)[:500] or type(exc).__name__, finished_at=timezone.now())
        raise
    return job


def export_filename(job: ExportJob) -> str:
    return f"tickets-{job.event.slug}.pdf"
