"""Proved like a door would: print the ticket, scan its QR code from the picture, check in with what was read."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.urls import reverse

from accounts.models import Role
from accounts.services import api_key_create
from events import services, tickets
from events.models import CheckIn
from tests.api.conftest import ApiClient
from tests.conftest import logged_in_client
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db
needs_scanner = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")), reason="needs poppler-utils and zbar-tools"
)


def scan_pdf(pdf: bytes, tmp_path) -> list[str]:
    """Rasterize the PDF at a phone camera's resolution and decode every QR code on it."""
    (tmp_path / "ticket.pdf").write_bytes(pdf)
    subprocess.run(  # noqa: S603 - a fixed poppler/zbar tool on our own temporary files
        [shutil.which("pdftoppm"), "-r", "150", "-png", str(tmp_path / "ticket.pdf"), str(tmp_path / "page")], check=True
    )
    pages = sorted(str(p) for p in tmp_path.glob("page*.png"))
    out = subprocess.run(  # noqa: S603 - a fixed poppler/zbar tool on our own temporary files
        [shutil.which("zbarimg"), "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", *pages], capture_output=True, check=True
    )
    return out.stdout.decode().split()


@needs_scanner
def test_printed_ticket_scans_in_once(published_event, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    _key, secret = api_key_create(org=published_event.organization, actor=None, name="door", scopes=["checkins:write"])
    scanner = ApiClient(secret)
    reg = services.registration_create(
        org=published_event.organization,
        actor=None,
        ticket_type_id=published_event.ticket_types.get().pk,
        name="Ada Lovelace",
        email="ada@example.com",
    )

    (read,) = scan_pdf(tickets.registration_ticket_pdf(reg), tmp_path)
    first = scanner.post("/api/v1/checkins", {"qr": read, "eventId": published_event.pk}, content_type="application/json")
    second = scanner.post("/api/v1/checkins", {"qr": read, "eventId": published_event.pk}, content_type="application/json")

    assert read == tickets.token_sign(reg)
    assert first.status_code == 201
    assert first.json()["attendee"]["name"] == "Ada Lovelace"
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "ALREADY_CHECKED_IN"
    assert CheckIn.objects.filter(registration=reg).count() == 1


@needs_scanner
def test_every_ticket_of_a_bulk_render_scans_as_its_own(published_event, tmp_path):
    regs = [
        services.registration_create(
            org=published_event.organization,
            actor=None,
            ticket_type_id=published_event.ticket_types.get().pk,
            name=f"Person {n}",
            email=f"p{n}@example.com",
        )
        for n in range(3)
    ]

    pdfs = tickets.render_pdfs(tickets.tickets_data([r.pk for r in regs]))

    read = []
    for n, pdf in enumerate(pdfs):
        (tmp_path / str(n)).mkdir()
        read.extend(scan_pdf(pdf, tmp_path / str(n)))
    assert [tickets.token_verify(published_event, value) for value in read] == [(r.pk, r.code) for r in regs]


# --- The portal's check-in desk: a hardware scanner types the QR code and presses Enter -------------


def _desk_scan(client, event, value: str) -> str:
    url = reverse("events:checkin-desk", args=[event.organization.slug, event.pk])
    return client.post(url, {"q": value}, headers={"HX-Request": "true"}).content.decode()


def _flash(html: str) -> str:
    match = re.search(r'data-testid="checkin-flash">([^<]*)<', html)
    assert match, "no flash in the answer"
    return match.group(1)


def test_desk_checks_in_a_scanned_qr_code(org, published_event):
    reg = services.registration_create(
        org=org, actor=None, ticket_type_id=published_event.ticket_types.get().pk, name="Ada Lovelace", email="ada@example.com"
    )
    client = logged_in_client(make_member(org, Role.CHECKIN))
    token = tickets.token_sign(reg)

    first = _flash(_desk_scan(client, published_event, token))
    second = _flash(_desk_scan(client, published_event, token))

    assert first.startswith("✓ Ada Lovelace checked in at")
    assert second.startswith("✕ Ada Lovelace: Already checked in at")
    assert CheckIn.objects.filter(registration=reg).count() == 1


def test_desk_says_when_a_scanned_ticket_is_forged_or_for_another_event(org, published_event):
    other_event = make_event(org, publish=True, title="Spring Summit")
    other = services.registration_create(
        org=org, actor=None, ticket_type_id=other_event.ticket_types.get().pk, name="Grace Hopper", email="grace@example.com"
    )
    client = logged_in_client(make_member(org, Role.CHECKIN))
    token = tickets.token_sign(other)

    wrong_event = _flash(_desk_scan(client, published_event, token))
    forged = _flash(_desk_scan(client, published_event, token[:-4] + "AAAA"))

    assert wrong_event == "✕ This ticket is for “Spring Summit”, not for this event."
    assert forged == "✕ This ticket is not valid: it is forged or damaged."
    assert CheckIn.objects.count() == 0
