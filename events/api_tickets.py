"""/api/v1/registrations/{id}/ticket: the attendee's PDF ticket."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from events import selectors, tickets
from portal.api import ErrorOut
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS

router = Router(tags=["registrations"])

PDF_RESPONSE = {
    200: {
        "description": "The ticket (A6, one page): the event, the attendee, the chosen sessions, the code and the QR.",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/registrations/{int:registration_id}/ticket",
    auth=scoped("registrations:read"),
    response={READ_ERRORS | {409, 410}: ErrorOut},
    summary="Download a registration's ticket (PDF)",
    description="The ticket as `application/pdf`, rendered when the registration was confirmed and again whenever "
    "something it prints changed. A cancelled registration (or event) answers 410 `TICKET_NOT_AVAILABLE`, one "
    "pending payment 409 `REGISTRATION_NOT_CONFIRMED`. Needs `registrations:read`.",
    openapi_extra={"responses": PDF_RESPONSE},
)
def registration_ticket(request: HttpRequest, registration_id: int):
    principal = require_scope(request, "registrations:read")
    reg = selectors.registration_get(org=principal.organization, registration_id=registration_id)
    pdf = tickets.registration_ticket_pdf(reg)
    return tickets.pdf_response(pdf, filename=tickets.ticket_filename(reg))
