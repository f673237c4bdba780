"""Attendee e-mails: confirmation, cancellation, "event changed" and the reminder 24 hours before.

Every e-mail is rendered from three small templates — subject, text and HTML — either the built-in ones
(``templates/emails/<kind>_subject.txt``, ``<kind>.txt``, ``<kind>.html``) or an organization's own wording
(``EmailTemplate``). Both are rendered by a sandboxed template engine from a string, with a context of plain
values only (names, formatted times, links): no model object, no template loading, nothing else reachable.
The HTML part is then wrapped in ``emails/_layout.html``.

Each e-mail goes out once: a ``SentEmail`` row (registration, kind, key) is claimed before sending and
released if sending fails, so a retried task never sends twice and a failed one is tried again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.loader import get_template, render_to_string
from django.utils import dateformat, timezone
from django.utils.html import escape, linebreaks, urlize
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from accounts.models import AuditEntry, Organization, User
from accounts.services import audit_log
from events import calendars
from events.errors import ValidationFailed
from events.models import (
    ACTIVE_STATUSES,
    EmailKind,
    EmailTemplate,
    Event,
    EventStatus,
    Registration,
    RegistrationStatus,
    SentEmail,
)

logger = logging.getLogger("convene.events")

#: what each kind of e-mail is for, as the "E-mails" page explains it
KIND_HELP = {
    EmailKind.CONFIRMATION: "Sent when a seat is confirmed, with the PDF ticket and a calendar file attached.",
    EmailKind.CANCELLATION: "Sent when a registration is cancelled, with a calendar file that removes the entries.",
    EmailKind.EVENT_CHANGED: "Sent when the date, the place, the name or the status of an event changes, "
    "with the updated calendar file.",
    EmailKind.REMINDER: "Sent about 24 hours before the event starts to everyone whose seat is confirmed.",
}

#: the variables a template can use (the "E-mails" page lists them)
VARIABLES = {
    "attendee_name": "The attendee's name",
    "attendee_email": "The attendee's e-mail address",
    "event_title": "The event's name",
    "event_when": "Start and end, e.g. “Tuesday 3 March 2026, 10:00 – 18:00 (Europe/Berlin)”",
    "event_starts": "The start, e.g. “Tuesday 3 March 2026, 10:00”",
    "event_ends": "The end, formatted the same way",
    "event_timezone": "The event's time zone, e.g. Europe/Berlin",
    "location": "Venue and address, or “Online”",
    "venue_name": "The venue",
    "venue_address": "The venue's address",
    "online_url": "The online link (empty for on-site events)",
    "event_url": "The public event page",
    "registration_url": "The attendee's confirmation page",
    "calendar_url": "The attendee's calendar file (.ics)",
    "ticket_url": "The attendee's ticket (PDF) download link, while the seat is confirmed",
    "registration_code": "The ticket code",
    "ticket_name": "The ticket type",
    "organization_name": "Your organization's name",
    "sessions": "The sessions chosen: each has title, when, room and cancelled",
    "event_cancelled": "True when the event is cancelled",
    "cancellation_reason": "Why the event was cancelled",
    "changes": "What changed (event changed e-mail): e.g. “date and time”, “place”",
}

#: audit-log field names whose change attendees are told about, and how the e-mail names them
ATTENDEE_FIELDS = {
    "starts_at": "date and time",
    "ends_at": "date and time",
    "timezone": "date and time",
    "venue_name": "place",
    "venue_address": "place",
    "online_url": "online link",
    "title": "name",
}
REMINDER_WINDOW = timedelta(hours=24)
DATE_FORMAT = "l j F Y, H:i"


# --- The sandboxed template engine ----------------------------------------------------------------

#: tags an organization's template may use: logic and formatting only (no load, include, extends, url, debug)
SAFE_TAGS = frozenset(
    {"autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now", "regroup", "resetcycle",
     "spaceless", "templatetag", "verbatim", "widthratio", "with"}
)  # fmt: skip


#: filters that pad to any width: "x"|ljust:"999999999" would fill the memory of whoever renders it
PADDING_FILTERS = frozenset({"ljust", "rjust", "center"})


def _sandbox_library() -> Library:
    library = Library()
    library.tags = {name: tag for name, tag in defaulttags.register.tags.items() if name in SAFE_TAGS}
    library.filters = {name: f for name, f in defaultfilters.register.filters.items() if name not in PADDING_FILTERS}
    return library


def _engine(*, autoescape: bool) -> Engine:
    engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=autoescape, debug=True)
    engine.template_builtins = [_sandbox_library()]
    return engine


_HTML_ENGINE = _engine(autoescape=True)
_TEXT_ENGINE = _engine(autoescape=False)


class TemplateProblem(ValueError):
    """A template that does not compile or render: the message says where."""


def _render_string(source: str, context: dict[str, Any], *, html: bool) -> str:
    engine = _HTML_ENGINE if html else _TEXT_ENGINE
    try:
        template = engine.from_string(source)
        return template.render(Context(context, autoescape=html))
    except TemplateSyntaxError as exc:
        line = getattr(exc, "template_debug", {}).get("line")
        message = str(exc).replace(" Did you forget to register or load this tag?", " (this tag is not available)")
        raise TemplateProblem(f"Line {line}: {message}" if line else message) from None
    except Exception as exc:  # a filter given a value it cannot take, and the like
        raise TemplateProblem(str(exc) or type(exc).__name__) from None


@dataclass(frozen=True)
class EmailSource:
    subject: str
    body_text: str
    body_html: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def default_source(kind: str) -> EmailSource:
    """The built-in wording of one kind of e-mail (what "reset to default" goes back to)."""

    def source(name: str) -> str:
        return get_template(f"emails/{name}").template.source

    return EmailSource(
        subject=source(f"{kind}_subject.txt").strip(),
        body_text=source(f"{kind}.txt"),
        body_html=source(f"{kind}.html"),
    )


def email_source(*, org: Organization, kind: str) -> tuple[EmailSource, EmailTemplate | None]:
    """The wording in use: the organization's own for this kind, else the built-in one."""
    override = EmailTemplate.objects.for_org(org).filter(kind=kind).first()
    if override is None:
        return default_source(kind), None
    return EmailSource(subject=override.subject, body_text=override.body_text, body_html=override.body_html), override


def render_source(source: EmailSource, context: dict[str, Any]) -> RenderedEmail:
    """Render subject, text and HTML (raises TemplateProblem, with ``.field``, when one of them fails)."""
    parts = {}
    for field, text, html in (
        ("subject", source.subject, False),
        ("body_text", source.body_text, False),
        ("body_html", source.body_html, True),
    ):
        try:
            parts[field] = _render_string(text, context, html=html) if text.strip() else ""
        except TemplateProblem as exc:
            exc.field = field
            raise
    subject = " ".join(parts["subject"].split())
    text = parts["body_text"].strip() + "\n"
    # without an HTML version, the text becomes the HTML (links made clickable)
    content = parts["body_html"] or linebreaks(urlize(escape(text.strip()), nofollow=True))
    html = render_to_string(
        "emails/_layout.html",
        {"subject": subject, "content": mark_safe(content), "organization_name": context.get("organization_name", "")},  # noqa: S308 - rendered by the autoescaping sandbox
    )
    return RenderedEmail(subject=subject, text=text, html=html)


def template_problems(source: EmailSource, context: dict[str, Any] | None = None) -> dict[str, str]:
    """{field: message} for every template part that does not compile or render with sample data."""
    context = context if context is not None else sample_context()
    problems = {}
    for field in ("subject", "body_text", "body_html"):
        text = getattr(source, field)
        if field != "body_html" and not text.strip():
            problems[field] = _("This cannot be empty.")
            continue
        try:
            _render_string(text, context, html=field == "body_html")
        except TemplateProblem as exc:
            problems[field] = str(exc)
    return problems


# --- Context: plain values only -------------------------------------------------------------------


def _fmt(value: datetime, tz) -> str:
    return dateformat.format(timezone.localtime(value, tz), DATE_FORMAT)


def _when(starts: datetime, ends: datetime, tz, tz_name: str) -> str:
    local_start, local_end = timezone.localtime(starts, tz), timezone.localtime(ends, tz)
    end = dateformat.format(local_end, "H:i" if local_start.date() == local_end.date() else DATE_FORMAT)
    return f"{dateformat.format(local_start, DATE_FORMAT)} – {end} ({tz_name})"


def registration_context(reg: Registration, *, changes: list[str] | None = None) -> dict[str, Any]:
    """Everything an attendee e-mail may say about this registration, as strings, booleans and lists."""
    event = reg.event
    tz = event.tz
    sessions = [
        {
            "title": s.title,
            "when": _when(s.starts_at, s.ends_at, tz, event.timezone),
            "room": s.room,
            "cancelled": s.cancelled,
        }
        for s in reg.sessions.all().order_by("starts_at", "id")
    ]
    return {
        "attendee_name": reg.name,
        "attendee_email": reg.email,
        "event_title": event.title,
        "event_when": _when(event.starts_at, event.ends_at, tz, event.timezone),
        "event_starts": _fmt(event.starts_at, tz),
        "event_ends": _fmt(event.ends_at, tz),
        "event_timezone": event.timezone,
        "location": calendars.event_location(event) if event.venue_name else ("Online" if event.online_url else ""),
        "venue_name": event.venue_name,
        "venue_address": event.venue_address,
        "online_url": event.online_url,
        "event_url": calendars.site_url(calendars.event_public_path(event)),
        "registration_url": calendars.site_url(reg_done_path(reg)),
        "calendar_url": calendars.site_url(calendars.registration_calendar_path(reg)),
        "ticket_url": _ticket_url(reg),
        "registration_code": reg.code,
        "ticket_name": reg.ticket_type.name,
        "organization_name": event.organization.name,
        "sessions": sessions,
        "event_cancelled": event.is_cancelled,
        "cancellation_reason": event.cancellation_reason,
        "changes": changes or [],
    }


def _ticket_url(reg: Registration) -> str:
    if reg.status != RegistrationStatus.CONFIRMED or reg.event.is_cancelled:
        return ""
    from events import tickets

    return calendars.site_url(tickets.ticket_link_url(reg))


def reg_done_path(reg: Registration) -> str:
    from django.urls import reverse

    return reverse("public:registration-done", args=[reg.event.organization.slug, reg.event.slug, reg.code])


def sample_context(org: Organization | None = None, *, kind: str = "") -> dict[str, Any]:
    """Made-up values for previews: what a real e-mail's context looks like."""
    tz_name = "Europe/Berlin"
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)
    start = (timezone.now() + timedelta(days=14)).astimezone(tz).replace(hour=9, minute=30, second=0, microsecond=0)
    end = start + timedelta(hours=8)
    base = calendars.site_url("/e/sample/sample-event/")
    return {
        "attendee_name": "Ada Lovelace",
        "attendee_email": "ada@example.com",
        "event_title": "Sample Conference 2026",
        "event_when": _when(start, end, tz, tz_name),
        "event_starts": _fmt(start, tz),
        "event_ends": _fmt(end, tz),
        "event_timezone": tz_name,
        "location": "Conference Centre, 1 Example Street, Berlin",
        "venue_name": "Conference Centre",
        "venue_address": "1 Example Street, Berlin",
        "online_url": "",
        "event_url": base,
        "registration_url": base + "registered/K7QX2M9P/",
        "calendar_url": base + "registered/K7QX2M9P/calendar.ics",
        "ticket_url": base + "ticket/sample/",
        "registration_code": "K7QX2M9P",
        "ticket_name": "General admission",
        "organization_name": org.name if org else "Your organization",
        "sessions": [
            {
                "title": "Opening keynote",
                "when": _when(start, start + timedelta(hours=1), tz, tz_name),
                "room": "Hall A",
                "cancelled": False,
            },
            {
                "title": "Workshop: hands on",
                "when": _when(start + timedelta(hours=2), start + timedelta(hours=4), tz, tz_name),
                "room": "Room 2",
                "cancelled": False,
            },
        ],
        "event_cancelled": False,
        "cancellation_reason": "",
        "changes": ["date and time", "place"] if kind == EmailKind.EVENT_CHANGED else [],
    }


def preview(*, org: Organization, kind: str, source: EmailSource) -> RenderedEmail:
    """The e-mail as an attendee would see it, with sample data (raises TemplateProblem)."""
    return render_source(source, sample_context(org, kind=kind))


# --- Sending --------------------------------------------------------------------------------------


def _claim(reg: Registration, kind: str, key: str) -> bool:
    """Record that this e-mail is being sent; False when it was sent (or is being sent) already."""
    try:
        with transaction.atomic():
            SentEmail.objects.create(organization_id=reg.organization_id, registration=reg, kind=kind, key=key)
    except IntegrityError:
        return False
    return True


def _release(reg: Registration, kind: str, key: str) -> None:
    SentEmail.objects.filter(registration=reg, kind=kind, key=key).delete()


def _render_for(reg: Registration, kind: str, context: dict[str, Any]) -> RenderedEmail:
    source, override = email_source(org=reg.event.organization, kind=kind)
    try:
        return render_source(source, context)
    except TemplateProblem:
        if override is None:
            raise
        # an organization's template that broke after it was saved must not stop the e-mail
        logger.exception("E-mail template %s of organization %s failed: built-in wording used", kind, reg.organization_id)
        return render_source(default_source(kind), context)


def _send(reg: Registration, kind: str, *, key: str, context: dict[str, Any], attachments=()) -> bool:
    if not _claim(reg, kind, key):
        return False
    try:
        rendered = _render_for(reg, kind, context)
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[_recipient(reg)],
        )
        message.attach_alternative(rendered.html, "text/html")
        for attachment in attachments:
            message.attach(*attachment() if callable(attachment) else attachment)
        message.send()
    except BaseException:
        _release(reg, kind, key)
        raise
    return True


def _recipient(reg: Registration) -> str:
    name = " ".join(reg.name.replace('"', "").replace("\\", "").split())
    return f'"{name}" <{reg.email}>' if name else reg.email


def _ics_attachment(reg: Registration) -> tuple[str, str, str]:
    content = calendars.registration_ics_build(registration=reg).decode()
    return (calendars.event_filename(reg.event), content, "text/calendar")


def _ticket_attachment(reg: Registration) -> tuple[str, bytes, str]:
    from events import tickets

    return (f"ticket-{reg.code}.pdf", tickets.registration_ticket_pdf(reg), "application/pdf")


def _registration(registration_id: int) -> Registration:
    return Registration.objects.select_related("event__organization", "ticket_type").get(pk=registration_id)


def confirmation_send(*, registration_id: int) -> bool:
    """The confirmation with the PDF ticket and the .ics attached; once per registration."""
    reg = _registration(registration_id)
    if reg.status != RegistrationStatus.CONFIRMED:
        return False
    return _send(
        reg,
        EmailKind.CONFIRMATION,
        key="",
        context=registration_context(reg),
        attachments=[lambda: _ticket_attachment(reg), lambda: _ics_attachment(reg)],
    )


def cancellation_send(*, registration_id: int) -> bool:
    """The cancellation, with a calendar file that marks the entries cancelled; once per registration."""
    reg = _registration(registration_id)
    if reg.status != RegistrationStatus.CANCELLED:
        return False
    return _send(
        reg, EmailKind.CANCELLATION, key="", context=registration_context(reg), attachments=[lambda: _ics_attachment(reg)]
    )


def _attendee_changes(event: Event) -> tuple[list[str], datetime | None]:
    """What attendees have not been told yet: labels of the changes, and when the latest one happened."""
    entries = AuditEntry.objects.for_org(event.organization).filter(
        object_type="event",
        object_id=str(event.pk),
        action__in=("events.event.updated", "events.event.cancelled"),
    )
    if event.published_at:
        entries = entries.filter(created_at__gte=event.published_at)
    # when attendees were last told (about an earlier sequence: a retried task must still reach everyone)
    told = (
        SentEmail.objects.filter(registration__event=event, kind=EmailKind.EVENT_CHANGED)
        .exclude(key=str(event.sequence))
        .aggregate(at=Max("sent_at"))["at"]
    )
    if told:
        entries = entries.filter(created_at__gt=told)
    labels: list[str] = []
    latest = None
    for entry in entries.order_by("created_at", "id"):
        if entry.action == "events.event.cancelled":
            found = ["status"]
        else:
            found = [ATTENDEE_FIELDS[name] for name in entry.changes if name in ATTENDEE_FIELDS]
        if found:
            latest = entry.created_at
            labels += [label for label in found if label not in labels]
    return labels, latest


def event_changed_send(*, event_id: int, sequence: int) -> int:
    """Tell the attendees of a changed event (date, place, name or status) with the updated .ics.

    Once per event sequence and registration; a task for an older sequence sends nothing (the newer
    one will), and a change that attendees would not notice (a description edit) sends nothing.
    Returns how many e-mails went out.
    """
    event = Event.objects.select_related("organization").get(pk=event_id)
    if event.sequence != sequence or event.status == EventStatus.DRAFT:
        return 0
    changes, latest = _attendee_changes(event)
    if latest is None:
        return 0
    regs = (
        Registration.objects.filter(event=event, status__in=ACTIVE_STATUSES, created_at__lt=latest)
        .select_related("ticket_type")
        .order_by("pk")
    )
    sent = 0
    for reg in regs:
        reg.event = event
        context = registration_context(reg, changes=changes)
        sent += _send(
            reg, EmailKind.EVENT_CHANGED, key=str(sequence), context=context, attachments=[lambda r=reg: _ics_attachment(r)]
        )
    return sent


def reminders_send(*, now: datetime | None = None) -> int:
    """The reminder to confirmed attendees of published events starting within the next 24 hours.

    Once per registration and start time (an event moved to another day reminds again). Returns how many
    e-mails went out.
    """
    now = now or timezone.now()
    events = Event.objects.filter(
        status=EventStatus.PUBLISHED, starts_at__gt=now, starts_at__lte=now + REMINDER_WINDOW
    ).select_related("organization")
    sent = 0
    for event in events:
        key = event.starts_at.isoformat()
        already = SentEmail.objects.filter(registration=OuterRef("pk"), kind=EmailKind.REMINDER, key=key)
        regs = (
            Registration.objects.filter(event=event, status=RegistrationStatus.CONFIRMED)
            .exclude(Exists(already))
            .select_related("ticket_type")
            .order_by("pk")
        )
        for reg in regs:
            reg.event = event
            try:
                sent += _send(reg, EmailKind.REMINDER, key=key, context=registration_context(reg))
            except Exception:
                # one bad address must not hold up everyone else's reminder: the next run tries it again
                logger.exception("Reminder to registration %s failed", reg.pk)
    return sent


# --- Organization templates (writes) --------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in EmailKind.values:
        raise ValidationFailed(_("Unknown kind of e-mail."), field="kind")


@transaction.atomic(durable=True)
def email_template_save(
    *, org: Organization, actor: User | None, kind: str, subject: str, body_text: str, body_html: str = ""
) -> EmailTemplate:
    """Use the organization's own wording for one kind of e-mail (templates checked with sample data)."""
    _check_kind(kind)
    source = EmailSource(subject=subject.strip(), body_text=body_text, body_html=body_html)
    problems = template_problems(source, sample_context(org, kind=kind))
    if problems:
        field, message = next(iter(problems.items()))
        raise ValidationFailed(message, field=field)
    template, created = (
        EmailTemplate.objects.for_org(org)
        .select_for_update()
        .get_or_create(
            organization=org,
            kind=kind,
            defaults={"subject": source.subject, "body_text": body_text, "body_html": body_html},
        )
    )
    if not created:
        template.subject, template.body_text, template.body_html = source.subject, body_text, body_html
        template.updated_at = timezone.now()
        template.save()
    audit_log(org=org, actor=actor, action="events.email_template.saved", obj=template, changes={"kind": kind})
    return template


@transaction.atomic(durable=True)
def email_template_reset(*, org: Organization, actor: User | None, kind: str) -> bool:
    """Go back to the built-in wording; False when it was in use already."""
    _check_kind(kind)
    deleted, _rows = EmailTemplate.objects.for_org(org).filter(kind=kind).delete()
    if deleted:
        audit_log(org=org, actor=actor, action="events.email_template.reset", obj=org, changes={"kind": kind})
    return bool(deleted)
