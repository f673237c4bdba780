"""Attendee e-mails: confirmation, cancellation, "event changed", the 24-hour reminder, and the
organization's own wording (the "E-mails" page)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from accounts.models import Role
from events import emails, services, tickets
from events.models import EmailKind, EmailTemplate, SentEmail
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7 test"


@pytest.fixture(autouse=True)
def fake_ticket(monkeypatch):
    """The PDF ticket is rendered elsewhere: these tests only need its bytes."""
    monkeypatch.setattr(tickets, "registration_ticket_pdf", lambda reg: PDF)
    monkeypatch.setattr(tickets, "tickets_refresh", lambda ids: None)


def _register(event, *, name="Ada Lovelace", email="ada@example.com", session_ids=()):
    return services.registration_create(
        org=event.organization,
        actor=None,
        ticket_type_id=event.ticket_types.first().pk,
        name=name,
        email=email,
        session_ids=session_ids,
    )


# --- Confirmation ---------------------------------------------------------------------------------


def test_confirmation_has_text_and_html_with_the_ticket_and_the_calendar_attached(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    event = make_event(org, publish=True, title="Python Summit")
    with django_capture_on_commit_callbacks(execute=True):
        reg = _register(event)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ['"Ada Lovelace" <ada@example.com>']
    assert mail.subject == "You're registered: Python Summit"
    assert "Hello Ada Lovelace" in mail.body
    assert reg.code in mail.body
    assert [mimetype for _content, mimetype in mail.alternatives] == ["text/html"]
    assert "<h1>You're registered for Python Summit</h1>" in mail.alternatives[0][0]
    names = [name for name, _content, _mimetype in mail.attachments]
    assert names == [f"ticket-{reg.code}.pdf", f"{event.slug}.ics"]
    pdf, ics = mail.attachments
    assert (pdf[1], pdf[2]) == (PDF, "application/pdf")
    assert ics[2] == "text/calendar"
    calendar = Calendar.from_ical(ics[1])
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [f"event-{event.pk}@localhost"]


def test_confirmation_is_sent_once_however_often_the_task_runs(org, mailoutbox):
    event = make_event(org, publish=True)
    reg = _register(event)

    first = emails.confirmation_send(registration_id=reg.pk)
    second = emails.confirmation_send(registration_id=reg.pk)

    assert (first, second, len(mailoutbox)) == (True, False, 1)
    assert SentEmail.objects.filter(registration=reg, kind=EmailKind.CONFIRMATION).count() == 1


def test_a_failed_send_is_not_recorded_so_the_retry_sends_it(org, mailoutbox, monkeypatch):
    event = make_event(org, publish=True)
    reg = _register(event)
    monkeypatch.setattr(tickets, "registration_ticket_pdf", lambda reg: (_ for _ in ()).throw(OSError("disk")))

    with pytest.raises(OSError, match="disk"):
        emails.confirmation_send(registration_id=reg.pk)
    monkeypatch.setattr(tickets, "registration_ticket_pdf", lambda reg: PDF)
    sent = emails.confirmation_send(registration_id=reg.pk)

    assert (sent, len(mailoutbox)) == (True, 1)


def test_pending_registration_gets_no_confirmation_until_paid(org, mailoutbox, django_capture_on_commit_callbacks):
    from decimal import Decimal

    event = make_event(org, publish=True, price=Decimal("20"))
    with django_capture_on_commit_callbacks(execute=True):
        reg = _register(event)
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        services.registration_confirm(org=org, actor=None, registration_id=reg.pk)

    assert [m.subject for m in mailoutbox] == [f"You're registered: {event.title}"]


# --- Cancellation ---------------------------------------------------------------------------------


def test_cancellation_is_sent_with_a_cancelled_calendar_entry(org, mailoutbox, django_capture_on_commit_callbacks):
    event = make_event(org, publish=True, title="Python Summit")
    reg = _register(event)

    with django_capture_on_commit_callbacks(execute=True):
        services.registration_cancel(org=org, actor=None, registration_id=reg.pk)

    assert [m.subject for m in mailoutbox] == ["Registration cancelled: Python Summit"]
    ((_name, content, mimetype),) = mailoutbox[0].attachments
    assert mimetype == "text/calendar"
    assert [str(e["STATUS"]) for e in Calendar.from_ical(content).walk("VEVENT")] == ["CANCELLED"]


# --- Event changed --------------------------------------------------------------------------------


def test_moving_the_event_tells_each_attendee_once_per_sequence(org, mailoutbox, django_capture_on_commit_callbacks):
    event = make_event(org, publish=True, title="Python Summit")
    _register(event, email="ada@example.com")
    _register(event, name="Grace Hopper", email="grace@example.com")
    later = event.starts_at + timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=True):
        event = services.event_update(org=org, actor=None, event_id=event.pk, starts_at=later, ends_at=later + timedelta(hours=8))
    again = emails.event_changed_send(event_id=event.pk, sequence=event.sequence)

    assert again == 0
    assert sorted(m.to[0] for m in mailoutbox) == ['"Ada Lovelace" <ada@example.com>', '"Grace Hopper" <grace@example.com>']
    assert {m.subject for m in mailoutbox} == {"Changed: Python Summit"}
    assert "new date and time" in mailoutbox[0].body
    ((_name, content, _mimetype),) = mailoutbox[0].attachments
    vevent = Calendar.from_ical(content).walk("VEVENT")[0]
    assert vevent.start == later.astimezone(event.tz)
    assert SentEmail.objects.filter(kind=EmailKind.EVENT_CHANGED, key=str(event.sequence)).count() == 2


def test_a_second_change_tells_attendees_again(org, mailoutbox, django_capture_on_commit_callbacks):
    event = make_event(org, publish=True)
    _register(event)

    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(org=org, actor=None, event_id=event.pk, venue_name="Room A")
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(org=org, actor=None, event_id=event.pk, venue_name="Room B")

    assert len(mailoutbox) == 2
    assert "Room B" in mailoutbox[1].body


def test_a_description_edit_sends_nothing(org, mailoutbox, django_capture_on_commit_callbacks):
    event = make_event(org, publish=True)
    _register(event)

    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(org=org, actor=None, event_id=event.pk, description="Now with lunch.")

    assert mailoutbox == []


def test_a_stale_sequence_sends_nothing(org, mailoutbox):
    event = make_event(org, publish=True)
    _register(event)
    services.event_update(org=org, actor=None, event_id=event.pk, venue_name="Room A")

    assert emails.event_changed_send(event_id=event.pk, sequence=event.sequence) == 0
    assert mailoutbox == []


def test_cancelling_the_event_tells_attendees_why(org, mailoutbox, django_capture_on_commit_callbacks):
    event = make_event(org, publish=True, title="Python Summit")
    _register(event)

    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(org=org, actor=None, event_id=event.pk, reason="The venue flooded.")

    assert [m.subject for m in mailoutbox] == ["Cancelled: Python Summit"]
    assert "The venue flooded." in mailoutbox[0].body
    assert "The venue flooded." in mailoutbox[0].alternatives[0][0]


# --- Reminder -------------------------------------------------------------------------------------


def test_reminder_goes_once_to_confirmed_attendees_of_events_within_24_hours(org, mailoutbox):
    now = timezone.now()
    soon = make_event(org, publish=True, title="Soon", starts_at=now + timedelta(hours=20), ends_at=now + timedelta(hours=28))
    later = make_event(org, publish=True, title="Later", starts_at=now + timedelta(hours=30), ends_at=now + timedelta(hours=38))
    reg = _register(soon)
    cancelled = _register(soon, email="gone@example.com")
    services.registration_cancel(org=org, actor=None, registration_id=cancelled.pk)
    _register(later)

    first = emails.reminders_send(now=now)
    second = emails.reminders_send(now=now + timedelta(minutes=15))

    assert (first, second) == (1, 0)
    assert [(m.subject, m.to) for m in mailoutbox] == [("Tomorrow: Soon", ['"Ada Lovelace" <ada@example.com>'])]
    assert SentEmail.objects.get(kind=EmailKind.REMINDER).registration == reg


def test_reminder_for_the_later_event_goes_once_it_is_within_24_hours(org, mailoutbox):
    now = timezone.now()
    event = make_event(org, publish=True, starts_at=now + timedelta(hours=30), ends_at=now + timedelta(hours=38))
    _register(event)

    assert emails.reminders_send(now=now) == 0
    assert emails.reminders_send(now=now + timedelta(hours=7)) == 1


def test_reminder_schedule_is_made_once_every_fifteen_minutes():
    # through the migration's own function: tests that flush the database (transactional ones) also
    # empty the schedule table, so its row may be gone by the time this test runs
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    migration = importlib.import_module("events.migrations.0003_reminder_schedule")
    migration.create(apps, None)
    migration.create(apps, None)

    schedule = Schedule.objects.get(func="events.tasks.reminders_send_task")
    assert (schedule.schedule_type, schedule.minutes) == ("I", 15)


# --- The organization's own wording ---------------------------------------------------------------


def test_organization_override_is_used(org, mailoutbox):
    emails.email_template_save(
        org=org,
        actor=None,
        kind=EmailKind.CONFIRMATION,
        subject="Welcome, {{ attendee_name }}!",
        body_text="See you at {{ event_title }} on {{ event_starts }}.",
        body_html="<p>See you at <b>{{ event_title }}</b></p>",
    )
    event = make_event(org, publish=True, title="R&D Day")
    reg = _register(event)

    emails.confirmation_send(registration_id=reg.pk)

    mail = mailoutbox[0]
    assert mail.subject == "Welcome, Ada Lovelace!"
    assert mail.body.startswith("See you at R&D Day on ")
    assert "<p>See you at <b>R&amp;D Day</b></p>" in mail.alternatives[0][0]


def test_override_without_html_gets_html_made_from_the_text(org, mailoutbox):
    emails.email_template_save(
        org=org, actor=None, kind=EmailKind.CONFIRMATION, subject="Hi", body_text="Line one\n\nDetails: {{ event_url }}"
    )
    event = make_event(org, publish=True)
    reg = _register(event)

    emails.confirmation_send(registration_id=reg.pk)

    html = mailoutbox[0].alternatives[0][0]
    assert "<p>Line one</p>" in html
    assert 'href="http://localhost:8000/e/' in html


def test_override_context_has_no_model_objects(org):
    event = make_event(org, publish=True)
    reg = _register(event)

    context = emails.registration_context(reg)

    plain = (str, bool, int, list, dict, type(None))
    assert all(isinstance(value, plain) for value in context.values())
    assert all(isinstance(v, plain) for session in context["sessions"] for v in session.values())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{% load static %}{% static 'x' %}", "load"),
        ("{% include 'base.html' %}", "include"),
        ("{% debug %}", "debug"),
        ("{% if %}", "Line 1"),
        ("{{ attendee_name|nosuchfilter }}", "nosuchfilter"),
        ('{{ attendee_name|ljust:"999999999" }}', "ljust"),
    ],
)
def test_unsafe_or_broken_templates_are_refused(org, body, expected):
    from events.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        emails.email_template_save(org=org, actor=None, kind=EmailKind.REMINDER, subject="Hi", body_text=body)

    assert exc.value.field == "body_text"
    assert expected in exc.value.message
    assert not EmailTemplate.objects.exists()


# --- The "E-mails" page ---------------------------------------------------------------------------


def _url(org, name, kind=None):
    return reverse(f"events:{name}", args=[org.slug, kind] if kind else [org.slug])


def test_emails_page_lists_the_four_kinds(org, organizer_client):
    emails.email_template_save(org=org, actor=None, kind=EmailKind.REMINDER, subject="Hi", body_text="Soon!")

    response = organizer_client.get(_url(org, "email-list"))

    html = response.content.decode()
    assert response.status_code == 200
    for label in ("Registration confirmed", "Registration cancelled", "Event changed", "Reminder (24 hours before)"):
        assert label in html
    assert html.count("Customized") == 1


@pytest.mark.parametrize(("role", "status"), [(Role.ORGANIZER, 200), (Role.VIEWER, 403), (Role.CHECKIN, 403)])
def test_emails_page_needs_the_emails_permission(org, role, status):
    client = logged_in_client(make_member(org, role))

    assert client.get(_url(org, "email-edit", "confirmation")).status_code == status


def test_editor_starts_from_the_built_in_wording(org, organizer_client):
    response = organizer_client.get(_url(org, "email-edit", "reminder"))

    html = response.content.decode()
    assert "Tomorrow: {{ event_title }}" in html
    assert "Built-in wording" in html


def test_saving_an_override_then_resetting_to_default(org, organizer_client):
    url = _url(org, "email-edit", "reminder")

    saved = organizer_client.post(
        url, {"subject": "Soon: {{ event_title }}", "body_text": "Hello {{ attendee_name }}", "body_html": ""}
    )
    template = EmailTemplate.objects.get(organization=org, kind="reminder")
    reset = organizer_client.post(_url(org, "email-reset", "reminder"))

    assert saved.status_code == 302
    assert (template.subject, template.body_text) == ("Soon: {{ event_title }}", "Hello {{ attendee_name }}")
    assert reset.status_code == 302
    assert not EmailTemplate.objects.filter(organization=org).exists()


def test_bad_template_syntax_is_shown_beside_the_field(org, organizer_client):
    response = organizer_client.post(
        _url(org, "email-edit", "reminder"), {"subject": "Hi", "body_text": "{% for x in %}", "body_html": ""}
    )

    html = response.content.decode()
    assert response.status_code == 200
    start = html.index('id="field-body_text"')
    assert "errorlist" in html[start : html.index("</div>", html.index("errorlist", start)) + 6]
    assert not EmailTemplate.objects.exists()


def test_preview_renders_sample_data(org, organizer_client):
    response = organizer_client.post(
        _url(org, "email-preview", "confirmation"),
        {"subject": "Hi {{ attendee_name }}", "body_text": "Code {{ registration_code }}", "body_html": ""},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Hi Ada Lovelace" in html
    assert "Code K7QX2M9P" in html
    # the HTML version sits escaped in the iframe's srcdoc, so it renders there and not in the page
    assert 'srcdoc="&lt;!doctype html&gt;' in html


def test_preview_with_bad_syntax_shows_the_error_not_a_500(org, organizer_client):
    response = organizer_client.post(
        _url(org, "email-preview", "confirmation"),
        {"subject": "Hi", "body_text": "ok", "body_html": "{% if %}"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "HTML" in html
    assert "Line 1" in html


def test_unknown_kind_is_a_404(org, organizer_client):
    assert organizer_client.get(_url(org, "email-edit", "newsletter")).status_code == 404
