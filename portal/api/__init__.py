"""The public API root: /api/v1/. One NinjaAPI, a Router per app, one error envelope for everything."""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal.api.auth import BearerAuth
from portal.api.errors import camel, error_response
from portal.api.openapi import ConveneAPI
from portal.errors import Busy, DomainError

logger = logging.getLogger("convene.api")


class ErrorBody(Schema):
    code: str
    message: str
    details: object | None = None
    target: str | None = None
    status: int
    timestamp: str
    correlationId: str | None = None
    documentation: str


class ErrorOut(Schema):
    error: ErrorBody


api = ConveneAPI(
    title="Convene API",
    version="1.0",
    description=(
        "The Convene public API. Authenticate with `Authorization: Bearer <API key>`. Every error answers with the "
        "same envelope (`ErrorOut`); every response carries `X-Correlation-ID` and `X-RateLimit-*` headers."
    ),
    auth=BearerAuth(),
    urls_namespace="api-v1",
)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    details = {camel(k): v for k, v in exc.details.items() if v is not None} or None  # the API's names: camelCase
    response = error_response(request, status=exc.status, code=exc.code, message=exc.message, details=details, target=exc.field)
    if isinstance(exc, Busy):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "payload")]
    return error_response(
        request,
        status=422,
        code="VALIDATION_ERROR",
        message=first.get("msg", "The request is not valid."),
        details=[{"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg")} for e in exc.errors],
        target=".".join(location) or None,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request,
        status=401,
        code="UNAUTHENTICATED",
        message="Give a valid API key as 'Authorization: Bearer <key>'.",
    )
    response["WWW-Authenticate"] = 'Bearer realm="convene"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, status=exc.status_code, message=exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, status=404, message="The requested resource could not be found.")


@api.exception_handler(ObjectDoesNotExist)
def _does_not_exist(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
    name = getattr(getattr(exc, "model", None), "__name__", None) or type(exc).__qualname__.split(".")[0]
    return error_response(request, status=404, message=f"The requested {name.lower()} could not be found.")


@api.exception_handler(OverflowError)
def _id_out_of_range(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    # an id with more digits than any key can hold (SQLite refuses to even compare it): nothing has that id
    return error_response(request, status=404, message="The requested resource could not be found.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error (correlation id %s)", getattr(request, "correlation_id", "-"))
    return error_response(request, status=500, message="Something went wrong on our side. Quote the correlation id to support.")


def _routers() -> None:
    from accounts.api import router as users_router
    from events.api import router as events_router
    from events.api_calendars import router as calendars_router
    from events.api_checkins import router as checkins_router
    from events.api_payments import router as payments_router
    from events.api_registrations import router as registrations_router
    from events.api_sessions import router as sessions_router
    from events.api_tickets import router as tickets_router
    from integrations.api import router as webhooks_router

    api.add_router("/events", events_router)
    api.add_router("", registrations_router)
    api.add_router("", checkins_router)
    api.add_router("", tickets_router)
    api.add_router("", sessions_router)
    api.add_router("", calendars_router)
    api.add_router("/webhooks", webhooks_router)
    api.add_router("/payments", payments_router)
    api.add_router("/users", users_router)


_routers()
