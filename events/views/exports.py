"""Ticket downloads in the portal: one registration's PDF, and "all tickets of an event as one PDF" (a job with
a progress bar that polls until the file is ready)."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import org_view
from events import exports, selectors, tickets
from events.models import ExportJob, ExportStatus
from events.views.common import current_event
from portal.errors import DomainError

TEMPLATE = "events/export_detail.html"


def _job(request: HttpRequest, job_id: int) -> ExportJob:
    job = ExportJob.objects.for_org(request.organization).select_related("event").filter(pk=job_id).first()
    if job is None or job.event is None:
        raise Http404("No such export")
    return job


def _render_job(request: HttpRequest, job: ExportJob, *, status: int = 200, error: str = "") -> HttpResponse:
    context = {"nav": "events", "tab": "overview", "event": job.event, "job": job, "error": error}
    template = TEMPLATE
    if request.htmx and not request.htmx.boosted:
        template += "#export-progress"
    return render(request, template, context, status=status)


@org_view("registrations.view")
@require_safe
def registration_ticket(request: HttpRequest, event_id: int, registration_id: int) -> HttpResponse:
    """A confirmed registration's ticket (PDF), for the organizer to resend or print."""
    event = current_event(request, event_id)
    reg = selectors.registration_get(org=request.organization, registration_id=registration_id)
    if reg.event_id != event.pk:
        raise Http404("No such registration for this event")
    try:
        pdf = tickets.registration_ticket_pdf(reg)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    return tickets.pdf_response(pdf, filename=tickets.ticket_filename(reg))


@org_view("exports.create")
@require_POST
def export_tickets_create(request: HttpRequest, event_id: int) -> HttpResponse:
    event = current_event(request, event_id)
    try:
        job = exports.export_tickets_pdf_create(org=request.organization, actor=request.user, event_id=event.pk)
    except DomainError as exc:
        if request.htmx:
            job = ExportJob(organization=request.organization, event=event, kind=exports.TICKETS_PDF)
            return _render_job(request, job, error=exc.message)
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    if request.htmx:
        job.refresh_from_db()  # in a synchronous queue (tests, demo without a worker) it may be done already
        return _render_job(request, job)
    return redirect("events:export-detail", request.organization.slug, job.pk)


@org_view("exports.create")
@require_safe
@vary_on_headers("HX-Request")
def export_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's page; its progress partial polls itself every second until the job is done or failed."""
    return _render_job(request, _job(request, job_id))


@org_view("exports.create")
@require_safe
def export_download(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    if job.status != ExportStatus.DONE or not job.file:
        raise Http404("This export has no file (yet)")
    response = FileResponse(job.file.open("rb"), content_type="application/pdf", as_attachment=True)
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(job)}"'
    response["Cache-Control"] = "private, no-cache"
    return response
