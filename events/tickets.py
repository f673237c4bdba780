"""PDF tickets: rendering, storage and the signed token their QR code carries."""

from __future__ import annotations

from events.models import Registration


def registration_ticket_pdf(reg: Registration) -> bytes:
    """The registration's ticket as PDF bytes: the stored file when it is current, rendered otherwise."""
    raise NotImplementedError("ticket rendering is being built")
