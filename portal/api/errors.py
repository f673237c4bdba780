"""The one error envelope of the API (ARCHITECTURE.md, "API conventions")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from portal.errors import DomainError

#: the error-code reference: the envelope's `documentation` is `<DOCS_URL>#<CODE>`
DOCS_URL = "/developers/errors/"

#: the default code of each status, when nothing more precise raised the error
STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(
    request: HttpRequest,
    *,
    status: int,
    code: str | None = None,
    message: str | None = None,
    details: object = None,
    target: str | None = None,
) -> dict:
    code = code or STATUS_CODES.get(status, "ERROR")
    return {
        "error": {
            "code": code,
            "message": message or HTTPStatus(status).phrase,
            "details": details,
            "target": target,
            "status": status,
            "timestamp": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "correlationId": getattr(request, "correlation_id", None),
            "documentation": f"{DOCS_URL}#{code}",
        }
    }


def error_response(request: HttpRequest, *, status: int, **kwargs: object) -> JsonResponse:
    return JsonResponse(error_body(request, status=status, **kwargs), status=status)


def is_error_envelope(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        return "error" in json.loads(response.content)
    except (ValueError, TypeError):
        return False


#: the error statuses an operation declares in the OpenAPI document
READ_ERRORS = frozenset({400, 401, 403, 404, 422, 429})
WRITE_ERRORS = frozenset({400, 401, 403, 404, 409, 422, 429})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@contextmanager
def api_names(renames: dict[str, str]) -> Iterator[None]:
    """Re-raise a service's DomainError naming the API's field in ``target`` (``renames``, else camelCase).

    Services speak in their own keyword names (``starts_at``, ``ticket_type``); the client sent the API's
    (``startsAt``, ``ticketTypeId``), and the envelope's ``target`` must point at what the client sent.
    The keys of ``details`` are camel-cased for every error by the API root's handler.
    """
    try:
        yield
    except DomainError as exc:
        if exc.field:
            exc.field = renames.get(exc.field, camel(exc.field))
        raise
