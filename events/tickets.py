"""PDF tickets: rendering, storage and the signed token their QR code carries.

The token is what a scanner reads: ``CNV1.<payload>.<signature>``, both parts base64url without padding.
The payload is ``<event id>.<registration id>.<code>`` (ASCII); the signature is Ed25519 over
``CNV1.<payload>`` with the event's own key, whose public half is published to scanners
(``GET /api/v1/events/{id}/checkin-key``) so a door can verify a ticket without a connection.

A ticket is rendered once and stored with a digest of everything it prints; it is rendered again only
when something printed changed (the event's date or place, a chosen session, the attendee's name...).
Many tickets are laid out as one weasyprint document and split into one PDF per registration: one
layout pass is several times faster than a document per ticket. A bulk render is shared out between one
process per core (see ``render_pdfs``); bench/tickets.py measures it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import signal
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from events.errors import InvalidTicket, RegistrationNotConfirmed, TicketUnavailable, WrongEvent
from events.models import Event, Registration, RegistrationStatus

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from weasyprint import Document

logger = logging.getLogger("convene.events")

TOKEN_PREFIX = "CNV1"  # noqa: S105 - a format marker, not a secret
TOKEN_FORMAT = (
    "CNV1.<payload>.<signature>, base64url without padding. payload = ASCII '<eventId>.<registrationId>.<code>'; "  # noqa: S105 - a description, not a secret
    "signature = Ed25519 over the ASCII text 'CNV1.<payload>' with the event's key."
)
#: bump when the ticket's layout changes, so every stored ticket is rendered again on its next use
TEMPLATE_VERSION = "2"
TEMPLATE = "tickets/ticket.html"
#: tickets laid out per weasyprint document in bulk (bounds memory; larger batches gain little)
BATCH = 100
#: tickets a bulk render gives each process at least: below that, a second process is not worth forking
PARALLEL_MIN = 40


# --- Keys and tokens ------------------------------------------------------------------------------


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    """Strict base64url: only the alphabet, and only the one canonical spelling of the bytes."""
    try:
        raw = base64.b64decode(text.translate(str.maketrans("-_", "+/")) + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidTicket(_("This ticket could not be read.")) from exc
    if _b64e(raw) != text:
        raise InvalidTicket(_("This ticket could not be read."))
    return raw


def _ensure_keys(event: Event) -> None:
    """Give the event its Ed25519 key pair on first use, under a row lock so two workers never make two."""
    if event.ticket_private_key:
        return
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with transaction.atomic():
        locked = Event.objects.select_for_update().only("ticket_private_key", "ticket_public_key").get(pk=event.pk)
        if not locked.ticket_private_key:
            key = Ed25519PrivateKey.generate()
            locked.ticket_private_key = _b64e(key.private_bytes_raw())
            locked.ticket_public_key = _b64e(key.public_key().public_bytes_raw())
            Event.objects.filter(pk=event.pk).update(
                ticket_private_key=locked.ticket_private_key, ticket_public_key=locked.ticket_public_key
            )
    event.ticket_private_key, event.ticket_public_key = locked.ticket_private_key, locked.ticket_public_key


def _private_key(event: Event) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _ensure_keys(event)
    return Ed25519PrivateKey.from_private_bytes(_b64d(event.ticket_private_key))


def _public_key(event: Event) -> Ed25519PublicKey | None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not event.ticket_public_key:
        return None
    return Ed25519PublicKey.from_public_bytes(_b64d(event.ticket_public_key))


@dataclass(frozen=True)
class CheckinKey:
    event_id: int
    public_key: str
    public_key_pem: str


def event_checkin_key(event: Event) -> CheckinKey:
    """The event's public key as scanners need it (made on first use)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    _ensure_keys(event)
    pem = _public_key(event).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return CheckinKey(event_id=event.pk, public_key=event.ticket_public_key, public_key_pem=pem)


def token_sign(reg: Registration, *, event: Event | None = None) -> str:
    """The QR token of a registration. Ed25519 signatures are deterministic: the same ticket, the same token."""
    event = event or reg.event
    signed = f"{TOKEN_PREFIX}.{_b64e(f'{reg.event_id}.{reg.pk}.{reg.code}'.encode('ascii'))}"
    return f"{signed}.{_b64e(_private_key(event).sign(signed.encode('ascii')))}"


@dataclass(frozen=True)
class _Token:
    signed: bytes
    event_id: int
    registration_id: int
    code: str
    signature: bytes


def is_token(value: str) -> bool:
    """Whether ``value`` looks like a ticket token rather than a typed code or a name."""
    return value.strip().startswith(f"{TOKEN_PREFIX}.")


def _token_parse(value: str) -> _Token:
    value = value.strip()
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise InvalidTicket(_("This is not a ticket of ours, or it is damaged."))
    payload, signature = _b64d(parts[1]), _b64d(parts[2])
    try:
        event_id, registration_id, code = payload.decode("ascii").split(".")
        ids = int(event_id), int(registration_id)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidTicket(_("This ticket could not be read.")) from exc
    if len(signature) != 64 or not code:
        raise InvalidTicket(_("This ticket could not be read."))
    return _Token(f"{parts[0]}.{parts[1]}".encode("ascii"), ids[0], ids[1], code, signature)


def _signed_by(event: Event, token: _Token) -> bool:
    from cryptography.exceptions import InvalidSignature

    if not event.ticket_public_key:  # this copy of the event may predate its key
        event.ticket_public_key = Event.objects.filter(pk=event.pk).values_list("ticket_public_key", flat=True).first() or ""
    key = _public_key(event)
    if key is None:  # no ticket of this event was ever issued
        return False
    try:
        key.verify(token.signature, token.signed)
    except InvalidSignature:
        return False
    return True


def token_event_id(value: str) -> int:
    """The event a token claims to belong to (not verified yet: pass that event to ``token_verify``)."""
    return _token_parse(value).event_id


def token_verify(event: Event, value: str) -> tuple[int, str]:
    """(registration id, code) of a genuine ticket of ``event``.

    Raises InvalidTicket for a damaged or forged token (or one of another organization: that looks the
    same), WrongEvent for a genuine ticket of another event of the same organization.
    """
    token = _token_parse(value)
    if token.event_id != event.pk:
        other = Event.objects.filter(organization_id=event.organization_id, pk=token.event_id).first()
        if other is not None and _signed_by(other, token):
            raise WrongEvent(
                _("This ticket is for “%(title)s”, not for this event.") % {"title": other.title},
                event_id=other.pk,
                event_title=other.title,
            )
        raise InvalidTicket(_("This ticket is not valid: it is forged or damaged."))
    if not _signed_by(event, token):
        raise InvalidTicket(_("This ticket is not valid: it is forged or damaged."))
    return token.registration_id, token.code


# --- What a ticket prints -------------------------------------------------------------------------


def _when(event: Event) -> dict[str, str]:
    tz = event.tz
    starts, ends = timezone.localtime(event.starts_at, tz), timezone.localtime(event.ends_at, tz)
    if starts.date() == ends.date():
        date, time = dateformat.format(starts, "l j F Y"), f"{starts:%H:%M} – {ends:%H:%M}"
    else:
        date = f"{dateformat.format(starts, 'D j M Y')} – {dateformat.format(ends, 'D j M Y')}"
        time = f"{starts:%H:%M} – {ends:%H:%M}"
    return {"date": date, "time": time, "zone": f"{event.timezone} ({starts.tzname()})"}


def ticket_data(reg: Registration) -> dict:
    """Everything the ticket prints, as plain text: its digest decides whether the PDF is current.

    Needs ``reg`` with ``event__organization`` and ``ticket_type`` selected and ``sessions`` prefetched
    (see ``_load``) for a constant number of queries.
    """
    event = reg.event
    tz = event.tz
    multi_day = timezone.localtime(event.starts_at, tz).date() != timezone.localtime(event.ends_at, tz).date()
    sessions = []
    for s in sorted(reg.sessions.all(), key=lambda s: (s.starts_at, s.pk)):
        starts, ends = timezone.localtime(s.starts_at, tz), timezone.localtime(s.ends_at, tz)
        sessions.append(
            {
                "day": dateformat.format(starts, "D j M") if multi_day else "",
                "time": f"{starts:%H:%M}–{ends:%H:%M}",
                "title": s.title,
                "room": s.room,
                "cancelled": s.cancelled,
            }
        )
    tt = reg.ticket_type
    return {
        "v": TEMPLATE_VERSION,
        "id": reg.pk,
        "organization": event.organization.name,
        "title": event.title,
        "when": _when(event),
        "venue_name": event.venue_name,
        "venue_address": event.venue_address,
        "online_url": event.online_url,
        "name": reg.name,
        "ticket_type": tt.name,
        "price": "Free" if tt.is_free else f"{tt.price} {tt.currency}",
        "sessions": sessions,
        "code": reg.code,
        "token": token_sign(reg, event=event),
    }


def ticket_digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _load(ids: Iterable[int]) -> list[Registration]:
    return list(
        Registration.objects.filter(pk__in=list(ids))
        .select_related("event__organization", "ticket_type")
        .prefetch_related("sessions")
        .order_by("pk")
    )


def tickets_data(registration_ids: Sequence[int]) -> list[dict]:
    """What the valid tickets among these registrations print, in the order of ``registration_ids``."""
    regs = {reg.pk: reg for reg in _load(registration_ids)}
    return [
        ticket_data(regs[pk])
        for pk in registration_ids
        if pk in regs and regs[pk].status == RegistrationStatus.CONFIRMED and not regs[pk].event.is_cancelled
    ]


# --- Rendering ------------------------------------------------------------------------------------


def _qr_data_uri(token: str) -> str:
    import segno

    # Error correction M survives a crease or a scratched phone screen. One pixel per module, scaled up
    # without smoothing by the stylesheet (image-rendering: pixelated): a tiny image, sharp at any size.
    # The border is the quiet zone of 4 modules scanners need. A fixed mask skips segno's scoring of all
    # eight (pure Python, most of the QR's cost); every mask is valid and scanners read any of them.
    return segno.make_qr(token, error="m", mask=0, boost_error=False).png_data_uri(scale=1, border=4)


#: What the browser-like default stylesheet of weasyprint would give the few elements a ticket uses, and
#: nothing else: the full HTML one has hundreds of rules, and matching them against every element of a
#: batch was a fifth of the layout. The template's own stylesheet does the rest.
_UA_CSS = """
head, meta, title, style, script, [hidden] { display: none }
html, body, section, div, p, h1, hr { display: block }
b, strong, h1 { font-weight: bold }
br::before { content: "\\A"; white-space: pre-line }
"""
_ua_stylesheet = None


def _html(html: str):
    """The weasyprint document of ``html``, with the ticket's own small user-agent stylesheet."""
    global _ua_stylesheet
    from weasyprint import CSS, HTML

    if _ua_stylesheet is None:
        _ua_stylesheet = CSS(string=_UA_CSS)

    class TicketHTML(HTML):
        def _ua_stylesheets(self, forms=False):
            return [_ua_stylesheet]

        def _ph_stylesheets(self):
            return []

    return TicketHTML(string=html, base_url=str(settings.BASE_DIR))


def _layout(datas: Sequence[dict]) -> Document:
    tickets = [{**d, "qr": _qr_data_uri(d["token"])} for d in datas]
    return _html(render_to_string(TEMPLATE, {"tickets": tickets})).render()


def _pages_per_ticket(document: Document, ids: Sequence[int]) -> list[list[int]]:
    """The page numbers of each ticket: a ticket starts on the page holding its ``ticket-<id>`` anchor."""
    starts = {}
    for index, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor.startswith("ticket-"):
                starts.setdefault(int(anchor.removeprefix("ticket-")), index)
    order = [starts[i] for i in ids] + [len(document.pages)]
    return [list(range(order[n], order[n + 1])) for n in range(len(ids))]


_REFERENCE = re.compile(rb"(?<![\d.])(\d+) 0 R\b")


def _split(document: Document, groups: Sequence[Sequence[int]]) -> list[bytes]:
    """One PDF per group of pages, all cut from one PDF of the whole document.

    Writing each ticket as its own weasyprint document would paint it, subset its fonts and compress
    them again for every ticket: here the pages are painted once, the fonts subset and compressed once
    for the batch, and every ticket's file is assembled from the already serialized objects. Each file
    holds only what its own pages reach (its content, its QR image, the fonts it uses); object numbers
    are kept, the ones of other tickets are listed as free in the cross-reference stream.

    Uses weasyprint's PDF step (``weasyprint.pdf.generate_pdf``) and pydyf's objects directly: check this
    when upgrading weasyprint (tests/events/test_tickets.py and test_door.py cover it).
    """
    import pydyf
    from weasyprint import DEFAULT_OPTIONS
    from weasyprint.pdf import generate_pdf

    pdf = generate_pdf(document, None, 1, **DEFAULT_OPTIONS)
    objects = pdf.objects

    def number(reference: bytes) -> int:
        return int(reference.split()[0])

    pages = [objects[n] for n in pdf.pages["Kids"][::3]]
    shared = objects[number(pages[0]["Resources"])]
    fonts = objects[number(shared["Font"])]
    info = None
    if pdf.info:
        pdf.add_object(pdf.info)
        info = pdf.info.number
    roots = []
    for group in groups:
        tree = pydyf.Dictionary({"Type": "/Pages", "Kids": pydyf.Array(), "Count": len(group)})
        pdf.add_object(tree)
        for index in group:
            page = pages[index]
            used = {
                item[1:].split(b" ", 1)[0].decode()
                for item in objects[number(page["Contents"])].stream
                if isinstance(item, bytes) and item.endswith((b" Do", b" Tf"))
            }
            page_fonts = pydyf.Dictionary({key: value for key, value in fonts.items() if key in used})
            pdf.add_object(page_fonts)
            resources = pydyf.Dictionary(shared)
            resources["XObject"] = pydyf.Dictionary({k: v for k, v in shared["XObject"].items() if k in used})
            resources["Font"] = page_fonts.reference
            pdf.add_object(resources)
            page["Resources"], page["Parent"] = resources.reference, tree.reference
            tree["Kids"].extend([page.number, 0, "R"])
        root = pydyf.Dictionary({"Type": "/Catalog", "Pages": tree.reference})
        if "Lang" in pdf.catalog:
            root["Lang"] = pdf.catalog["Lang"]
        pdf.add_object(root)
        roots.append(root.number)

    serialized: dict[int, tuple[bytes, list[int]]] = {}

    def serialize(n: int) -> tuple[bytes, list[int]]:
        if n not in serialized:
            obj = objects[n]
            data = obj.data  # a stream is compressed here, once for every ticket that uses it
            head = data.split(b"\nstream\n", 1)[0] if isinstance(obj, pydyf.Stream) else data
            refs = [int(r) for r in _REFERENCE.findall(head)]
            serialized[n] = (b"%d 0 obj\n%s\nendobj\n" % (n, data), refs)
        return serialized[n]

    page_numbers = {page.number for page in pages}
    size = len(objects) + 1  # the cross-reference stream is the last object
    pdfs = []
    for group, root in zip(groups, roots, strict=True):
        reached, todo = set(), [root] + ([info] if info else [])
        while todo:
            n = todo.pop()
            if n not in reached:
                reached.add(n)
                todo.extend(serialize(n)[1])
        if reached & page_numbers != {pages[i].number for i in group}:  # a link to another ticket's page
            raise ValueError("a ticket's page refers to another ticket's page")
        out = bytearray(b"%PDF-1.7\n%\xf0\x9f\x96\xa4\n")
        offsets = {}
        for n in sorted(reached):
            offsets[n] = len(out)
            out += serialized[n][0]
        offsets[size - 1] = len(out)
        free = [n for n in range(size) if n not in offsets]  # object 0 heads the list of free objects
        following = dict(zip(free, [*free[1:], 0], strict=True))
        rows = bytearray()
        for n in range(size):
            if n in offsets:
                rows += b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00\x00"
            else:
                rows += b"\x00" + following[n].to_bytes(4, "big") + (b"\xff\xff" if n == 0 else b"\x00\x00")
        rows = zlib.compress(bytes(rows))
        out += b"%d 0 obj\n<</Type /XRef /Size %d /W [1 4 2] /Root %d 0 R%s /Filter /FlateDecode /Length %d>>\nstream\n" % (
            size - 1,
            size,
            root,
            b" /Info %d 0 R" % info if info else b"",
            len(rows),
        )
        out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[size - 1]
        pdfs.append(bytes(out))
    return pdfs


def _render_batches(datas: Sequence[dict]) -> list[bytes]:
    pdfs: list[bytes] = []
    for start in range(0, len(datas), BATCH):
        batch = datas[start : start + BATCH]
        document = _layout(batch)
        pdfs.extend(_split(document, _pages_per_ticket(document, [d["id"] for d in batch])))
    return pdfs


def bulk_workers(count: int) -> int:
    """How many processes lay out ``count`` tickets together: one per core, each with ``PARALLEL_MIN`` tickets
    at least, and only where forking is safe (no other thread that could hold a lock in the copy)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    return max(1, min(cores, count // PARALLEL_MIN))


def _render_in_child(share: Sequence[dict]) -> tuple[int, int]:
    """Fork a process that renders ``share`` and sends the PDFs back through a pipe: (pid, read end).

    The child only lays out and writes PDFs (no database, no files) and leaves with ``os._exit``, so it
    never runs the parent's clean-up (closing the parent's database connection, for one).
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    try:  # the child
        os.close(read)
        try:
            pdfs = _render_batches(share)
            payload = b"".join(len(pdf).to_bytes(8, "big") + pdf for pdf in pdfs)
            status = b"K"
        except BaseException as exc:  # reported to the parent, which raises it
            payload, status = f"{type(exc).__name__}: {exc}".encode(errors="replace"), b"E"
        with os.fdopen(write, "wb") as pipe:
            pipe.write(status + payload)
    finally:
        os._exit(0)


def _collect(pid: int, read: int) -> list[bytes]:
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if data[:1] != b"K":
        raise RuntimeError(f"a ticket rendering process failed: {data[1:].decode(errors='replace') or 'no answer'}")
    pdfs, at = [], 1
    while at < len(data):
        size = int.from_bytes(data[at : at + 8], "big")
        pdfs.append(data[at + 8 : at + 8 + size])
        at += 8 + size
    return pdfs


def render_pdfs(datas: Sequence[dict], *, workers: int | None = None) -> list[bytes]:
    """One PDF per ticket, in the order of ``datas``; laid out together in one document per ``BATCH`` tickets.

    Many tickets are shared out between ``bulk_workers`` processes (this one and forked copies of it);
    ``workers`` overrides that count (1: all in this process).
    """
    workers = bulk_workers(len(datas)) if workers is None else max(1, min(workers, len(datas)))
    if workers == 1:
        return _render_batches(datas)
    size = -(-len(datas) // workers)
    shares = [datas[start : start + size] for start in range(0, len(datas), size)]
    children: list[tuple[int, int]] = []
    try:
        for share in shares[1:]:
            children.append(_render_in_child(share))
        pdfs = _render_batches(shares[0])
    except BaseException:
        for pid, read in children:
            os.kill(pid, signal.SIGKILL)
            os.close(read)
            os.waitpid(pid, 0)
        raise
    results = []
    for pid, read in children:  # every child is waited for, even after one failed
        try:
            results.append(_collect(pid, read))
        except RuntimeError as exc:
            results.append(exc)
    for result in results:
        if isinstance(result, Exception):
            raise result
        pdfs.extend(result)
    return pdfs


def render_document(datas: Sequence[dict]) -> Document:
    """All the tickets as one document (the "all tickets" export combines these)."""
    return _layout(datas)


# --- Storage --------------------------------------------------------------------------------------


def _store(reg: Registration, pdf: bytes, digest: str) -> None:
    """Save the PDF and point the registration at it; the previous file is removed.

    Compare-and-set on the stored name: when two workers render the same ticket at once, the second
    one's file is dropped rather than left behind.
    """
    storage = reg.ticket_pdf.storage
    old = reg.ticket_pdf.name or ""
    name = storage.save(reg.ticket_pdf.field.generate_filename(reg, f"{reg.code}-{digest[:12]}.pdf"), ContentFile(pdf))
    stored = Registration.objects.filter(pk=reg.pk, ticket_pdf=old).update(
        ticket_pdf=name, ticket_digest=digest, ticket_rendered_at=timezone.now()
    )
    if not stored:
        storage.delete(name)
        return
    if old and old != name:
        storage.delete(old)
    reg.ticket_pdf.name, reg.ticket_digest = name, digest


def _read(reg: Registration) -> bytes | None:
    if not reg.ticket_pdf:
        return None
    try:
        with reg.ticket_pdf.open("rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def ticket_check_available(reg: Registration) -> None:
    """Raise unless the registration has a valid ticket: confirmed, for an event that still takes place."""
    if reg.status == RegistrationStatus.CANCELLED:
        raise TicketUnavailable(_("This registration was cancelled: its ticket is no longer valid."))
    if reg.status != RegistrationStatus.CONFIRMED:
        raise RegistrationNotConfirmed(_("The ticket is issued once the registration is confirmed (payment pending)."))
    if reg.event.is_cancelled:
        raise TicketUnavailable(_("This event was cancelled: its tickets are no longer valid."))


def registration_ticket_pdf(reg: Registration) -> bytes:
    """The registration's ticket as PDF bytes: the stored file when it is current, rendered otherwise.

    Raises TicketUnavailable (cancelled) or RegistrationNotConfirmed (payment pending).
    """
    (reg,) = _load([reg.pk])
    ticket_check_available(reg)
    data = ticket_data(reg)
    digest = ticket_digest(data)
    if reg.ticket_digest == digest and (stored := _read(reg)) is not None:
        return stored
    (pdf,) = render_pdfs([data])
    _store(reg, pdf, digest)
    return pdf


def tickets_refresh(registration_ids: Iterable[int]) -> int:
    """Render, in bulk, the tickets among these registrations whose printed content changed.

    Only confirmed registrations of events that take place have a ticket. Returns how many were rendered.
    """
    ids = sorted(set(registration_ids))
    step = BATCH * bulk_workers(len(ids))  # a batch per process at a time
    rendered = 0
    for start in range(0, len(ids), step):
        stale = []
        for reg in _load(ids[start : start + step]):
            if reg.status != RegistrationStatus.CONFIRMED or reg.event.is_cancelled:
                continue
            data = ticket_data(reg)
            digest = ticket_digest(data)
            if digest != reg.ticket_digest or not reg.ticket_pdf:
                stale.append((reg, data, digest))
        for (reg, _data, digest), pdf in zip(stale, render_pdfs([d for _r, d, _g in stale]), strict=True):
            _store(reg, pdf, digest)
        rendered += len(stale)
    return rendered


def ticket_discard(registration_id: int) -> None:
    """Remove a registration's stored ticket (after a cancellation): nothing valid stays downloadable."""
    reg = Registration.objects.filter(pk=registration_id).only("ticket_pdf").first()
    if reg is None or not reg.ticket_pdf:
        return
    name = reg.ticket_pdf.name
    if Registration.objects.filter(pk=registration_id, ticket_pdf=name).update(ticket_pdf="", ticket_digest=""):
        reg.ticket_pdf.storage.delete(name)


def ticket_filename(reg: Registration) -> str:
    return f"ticket-{reg.event.slug}-{reg.code}.pdf"


def pdf_response(pdf: bytes, *, filename: str) -> HttpResponse:
    """A PDF download with a good filename; private: a ticket is personal."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-cache"
    return response


# --- The attendee's download link -----------------------------------------------------------------

_LINK_SALT = "events.tickets.download"


def ticket_link_token(reg: Registration) -> str:
    """What the attendee's download link carries: the registration, signed with the site's secret key (the
    8-letter code alone would be guessable by anyone who knows the event)."""
    return signing.Signer(salt=_LINK_SALT).sign(f"{reg.pk}.{reg.code}")


def ticket_link_url(reg: Registration) -> str:
    """The attendee's ticket download path (relative; for an e-mail, prefix the site's address)."""
    from django.urls import reverse

    return reverse("public:ticket", args=[reg.event.organization.slug, reg.event.slug, ticket_link_token(reg)])


def ticket_link_registration(*, event: Event, value: str) -> Registration:
    """The registration a download link names, in ``event``; Registration.DoesNotExist when forged or foreign."""
    try:
        pk, code = signing.Signer(salt=_LINK_SALT).unsign(value).split(".", 1)
    except (signing.BadSignature, ValueError):
        raise Registration.DoesNotExist("No such ticket") from None
    return Registration.objects.select_related("event").get(pk=int(pk), code=code, event=event)
