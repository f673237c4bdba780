"""PDF tickets and the signed token their QR code carries."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse

from events import services, tickets
from events.errors import InvalidTicket, TicketUnavailable, WrongEvent
from events.models import Event, ExportJob, Registration
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(  # noqa: S603 - a fixed poppler/zbar tool on our own temporary files
        [shutil.which("pdftotext"), "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def pdf_pages(pdf: bytes) -> int:
    tool = [shutil.which("pdfinfo"), "-"]
    info = subprocess.run(tool, input=pdf, capture_output=True, check=True).stdout.decode()  # noqa: S603 - fixed tool
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def register(event: Event, name: str = "Ada Lovelace", email: str | None = None, **kwargs) -> Registration:
    return services.registration_create(
        org=event.organization,
        actor=None,
        ticket_type_id=event.ticket_types.first().pk,
        name=name,
        email=email or f"{name.split()[0].lower()}@example.com",
        **kwargs,
    )


@pytest.fixture
def event(org):
    # 14:00 UTC in winter is 15:00 in Berlin: the ticket must print the event's own wall clock
    return make_event(org, publish=True, title="Winter Summit", timezone="Europe/Berlin")


# --- Tokens ---------------------------------------------------------------------------------------


def test_token_verifies_for_its_own_event(event):
    reg = register(event)

    token = tickets.token_sign(reg)

    assert token.startswith("CNV1.")
    assert tickets.token_verify(event, token) == (reg.pk, reg.code)


def test_token_is_the_same_every_time_and_the_key_is_made_once(event):
    reg = register(event)

    first = tickets.token_sign(reg)
    second = tickets.token_sign(Registration.objects.get(pk=reg.pk))

    assert first == second
    event.refresh_from_db()
    assert len(base64.urlsafe_b64decode(event.ticket_public_key + "=")) == 32


def test_forged_payload_is_refused(event):
    reg, other = register(event), register(event, "Grace Hopper")
    prefix, _payload, signature = tickets.token_sign(reg).split(".")
    payload = base64.urlsafe_b64encode(f"{event.pk}.{other.pk}.{other.code}".encode()).rstrip(b"=").decode()

    with pytest.raises(InvalidTicket):
        tickets.token_verify(event, f"{prefix}.{payload}.{signature}")


@pytest.mark.parametrize("damage", ["last-char", "truncated", "garbage", "no-signature"])
def test_damaged_tokens_are_refused(event, damage):
    token = tickets.token_sign(register(event))
    damaged = {
        "last-char": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "truncated": token[:-10],
        "garbage": "CNV1.@@@.###",
        "no-signature": token.rsplit(".", 1)[0],
    }[damage]

    with pytest.raises(InvalidTicket):
        tickets.token_verify(event, damaged)


def test_token_signed_with_another_key_is_refused(event, org):
    impostor = make_event(org, publish=True, title="Impostor")
    reg = register(event)
    # same payload, signed with another event's key
    forged = tickets.token_sign(reg, event=impostor)

    with pytest.raises(InvalidTicket):
        tickets.token_verify(event, forged)


def test_ticket_of_another_event_is_wrong_event(event, org):
    other_event = make_event(org, publish=True, title="Spring Summit")
    token = tickets.token_sign(register(other_event))

    with pytest.raises(WrongEvent) as exc:
        tickets.token_verify(event, token)

    assert exc.value.details["event_id"] == other_event.pk


def test_ticket_of_another_organization_looks_forged(event, other_org):
    foreign = Registration.objects.get(organization=other_org)

    with pytest.raises(InvalidTicket):
        tickets.token_verify(event, tickets.token_sign(foreign))


# --- The PDF --------------------------------------------------------------------------------------


def test_pdf_prints_attendee_code_local_time_and_sessions(org):
    start = (event_start := make_event(org, title="tmp").starts_at).replace(month=1, day=15, hour=14, minute=0)
    event = make_event(
        org,
        publish=True,
        title="Winter Summit",
        starts_at=start.replace(year=event_start.year + 1),
        ends_at=start.replace(year=event_start.year + 1) + timedelta(hours=3),
    )
    session = services.session_create(
        org=org,
        actor=None,
        event_id=event.pk,
        title="Opening keynote",
        starts_at=event.starts_at + timedelta(minutes=30),
        ends_at=event.starts_at + timedelta(minutes=90),
        room="Hall A",
    )
    reg = register(event, session_ids=[session.pk])

    text = pdf_text(tickets.registration_ticket_pdf(reg))

    assert "Ada Lovelace" in text
    assert reg.code in text
    assert "Winter Summit" in text
    assert "15:00 – 18:00" in text  # 14:00 UTC in January is 15:00 in Berlin
    assert "Europe/Berlin (CET)" in text
    assert "15:30–16:30" in text and "Opening keynote" in text and "Hall A" in text
    assert "General" in text


def test_pdf_is_stored_and_not_rendered_again_without_a_change(event):
    reg = register(event)
    first = tickets.registration_ticket_pdf(reg)
    reg.refresh_from_db()
    stored_name, rendered_at = reg.ticket_pdf.name, reg.ticket_rendered_at

    again = tickets.registration_ticket_pdf(reg)

    reg.refresh_from_db()
    assert again == first
    assert (reg.ticket_pdf.name, reg.ticket_rendered_at) == (stored_name, rendered_at)
    assert tickets.tickets_refresh([reg.pk]) == 0


def test_pdf_is_rendered_again_when_the_event_moves(event):
    reg = register(event)
    tickets.registration_ticket_pdf(reg)
    reg.refresh_from_db()
    old_name = reg.ticket_pdf.name

    services.event_update(org=event.organization, actor=None, event_id=event.pk, venue_name="Kongresshalle")
    rendered = tickets.tickets_refresh([reg.pk])

    reg.refresh_from_db()
    assert rendered == 1
    assert reg.ticket_pdf.name != old_name
    assert not reg.ticket_pdf.storage.exists(old_name)
    assert "Kongresshalle" in pdf_text(tickets.registration_ticket_pdf(reg))


def test_changes_reach_the_tickets_through_the_tasks(event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reg = register(event)
    reg.refresh_from_db()
    assert reg.ticket_digest  # rendered on confirmation

    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(org=event.organization, actor=None, event_id=event.pk, title="Winter Summit 2")

    reg.refresh_from_db()
    assert "Winter Summit 2" in pdf_text(reg.ticket_pdf.read())


def test_cancelled_registration_has_no_ticket(event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reg = register(event)
        services.registration_cancel(org=event.organization, actor=None, registration_id=reg.pk)

    reg.refresh_from_db()
    assert reg.ticket_pdf.name == ""
    with pytest.raises(TicketUnavailable):
        tickets.registration_ticket_pdf(reg)


def test_bulk_rendering_gives_one_single_page_pdf_per_registration(event):
    regs = [register(event, f"Person {n}", f"p{n}@example.com") for n in range(5)]
    datas = tickets.tickets_data([r.pk for r in regs])

    pdfs = tickets.render_pdfs(datas)

    assert len(pdfs) == 5
    assert [pdf_pages(pdf) for pdf in pdfs] == [1] * 5
    assert [r.code in pdf_text(pdf) for r, pdf in zip(regs, pdfs, strict=True)] == [True] * 5
    assert "Person 0" not in pdf_text(pdfs[1])


def pdf_images(pdf: bytes, tmp_path) -> int:
    (tmp_path / "images.pdf").write_bytes(pdf)
    tool = [shutil.which("pdfimages"), "-list", str(tmp_path / "images.pdf")]
    listing = subprocess.run(tool, capture_output=True, check=True).stdout.decode()  # noqa: S603 - fixed tool
    return len(listing.splitlines()) - 2  # a two-line header, then a line per image


def test_each_bulk_pdf_carries_only_its_own_ticket(event, tmp_path):
    regs = [register(event, f"Person {n}", f"p{n}@example.com") for n in range(3)]

    pdfs = tickets.render_pdfs(tickets.tickets_data([r.pk for r in regs]), workers=1)

    assert [pdf_images(pdf, tmp_path) for pdf in pdfs] == [1, 1, 1]  # its own QR code, not the batch's
    assert [[r.code in pdf_text(pdf) for r in regs] for pdf in pdfs] == [
        [True, False, False],
        [False, True, False],
        [False, False, True],
    ]


def test_a_ticket_longer_than_a_page_keeps_all_its_pages(event):
    sessions = [
        services.session_create(
            org=event.organization,
            actor=None,
            event_id=event.pk,
            title=f"Session {n}",
            starts_at=event.starts_at + timedelta(minutes=10 * n),
            ends_at=event.starts_at + timedelta(minutes=10 * n + 10),
        )
        for n in range(24)
    ]
    long = register(event, "Ada Lovelace", session_ids=[s.pk for s in sessions])
    short = register(event, "Grace Hopper")

    pdfs = tickets.render_pdfs(tickets.tickets_data([long.pk, short.pk]), workers=1)

    assert pdf_pages(pdfs[0]) == 2
    assert "Session 23" in pdf_text(pdfs[0])
    assert pdf_pages(pdfs[1]) == 1
    assert "Grace Hopper" in pdf_text(pdfs[1])
    assert "Session" not in pdf_text(pdfs[1])


@pytest.mark.skipif(not hasattr(tickets.os, "fork"), reason="needs os.fork")
def test_bulk_rendering_shared_out_between_processes_keeps_the_order(event, monkeypatch):
    monkeypatch.setattr(tickets, "BATCH", 2)  # several documents per process
    regs = [register(event, f"Person {n}", f"p{n}@example.com") for n in range(7)]
    datas = tickets.tickets_data([r.pk for r in regs])

    pdfs = tickets.render_pdfs(datas, workers=3)

    assert len(pdfs) == 7
    assert [r.code in pdf_text(pdf) for r, pdf in zip(regs, pdfs, strict=True)] == [True] * 7
    assert [pdf_pages(pdf) for pdf in pdfs] == [1] * 7


@pytest.mark.skipif(not hasattr(tickets.os, "fork"), reason="needs os.fork")
def test_a_failing_rendering_process_fails_the_bulk_render(event, monkeypatch):
    regs = [register(event, f"Person {n}", f"p{n}@example.com") for n in range(4)]
    datas = tickets.tickets_data([r.pk for r in regs])
    datas[3] = {**datas[3], "token": None}  # the second process's share cannot be drawn

    with pytest.raises(RuntimeError, match="ticket rendering process failed"):
        tickets.render_pdfs(datas, workers=2)


# --- Downloads ------------------------------------------------------------------------------------


def test_confirmation_page_offers_a_signed_download(client, event):
    reg = register(event)
    page = client.get(reverse("public:registration-done", args=[event.organization.slug, event.slug, reg.code]))
    url = tickets.ticket_link_url(reg)

    response = client.get(url)

    assert url in page.content.decode()
    assert "Download your ticket (PDF)" in page.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="ticket-{event.slug}-{reg.code}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_download_link_cannot_be_guessed_from_the_code(client, event):
    reg = register(event)
    forged = f"{reg.pk}.{reg.code}:not-the-signature"

    response = client.get(reverse("public:ticket", args=[event.organization.slug, event.slug, forged]))

    assert response.status_code == 404


def test_download_link_of_a_cancelled_registration_says_so(client, event):
    reg = register(event)
    url = tickets.ticket_link_url(reg)
    services.registration_cancel(org=event.organization, actor=None, registration_id=reg.pk)

    response = client.get(url)

    assert response.status_code == 410
    assert "cancelled" in response.content.decode()


def test_portal_table_links_each_confirmed_ticket(org, event):
    reg = register(event)
    client = logged_in_client(make_member(org, "organizer"))

    page = client.get(reverse("events:registration-list", args=[org.slug, event.pk]))
    response = client.get(reverse("events:registration-ticket", args=[org.slug, event.pk, reg.pk]))

    assert reverse("events:registration-ticket", args=[org.slug, event.pk, reg.pk]) in page.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_all_tickets_export_makes_one_pdf_with_progress(org, event, django_capture_on_commit_callbacks):
    for n in range(3):
        register(event, f"Person {n}", f"p{n}@example.com")
    client = logged_in_client(make_member(org, "organizer"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("events:export-tickets", args=[org.slug, event.pk]), headers={"HX-Request": "true"})

    job = ExportJob.objects.get(event=event)
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in response.content.decode()  # the worker runs after the answer: it polls
    assert (job.status, job.done, job.total) == ("done", 3, 3)
    polled = client.get(reverse("events:export-detail", args=[org.slug, job.pk]), headers={"HX-Request": "true"})
    assert 'value="100"' in polled.content.decode()
    assert "every 1s" not in polled.content.decode()
    assert reverse("events:export-download", args=[org.slug, job.pk]) in polled.content.decode()
    download = client.get(reverse("events:export-download", args=[org.slug, job.pk]))
    pdf = b"".join(download.streaming_content)
    assert download["Content-Disposition"] == f'attachment; filename="tickets-{event.slug}.pdf"'
    assert pdf_pages(pdf) == 3


def test_export_page_polls_while_the_job_runs(org, event):
    job = ExportJob.objects.create(organization=org, event=event, kind="tickets_pdf", status="running", done=50, total=200)
    client = logged_in_client(make_member(org, "organizer"))

    html = client.get(reverse("events:export-detail", args=[org.slug, job.pk]), headers={"HX-Request": "true"}).content.decode()

    assert 'hx-trigger="every 1s"' in html
    assert '<progress max="100" value="25"' in html
    assert "50 of 200" in html
