"""/api/v1/webhooks: webhook endpoints, their deliveries and attempts."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime

from integrations import selectors, services
from integrations.errors import InvalidEventTypes
from integrations.models import EVENT_TYPES, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from portal.api import ErrorOut
from portal.api.auth import require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, paginate
from portal.api.schemas import Body
from portal.errors import NotFound

router = Router(tags=["webhooks"])


#: the services' field names → the API's names (the envelope's ``target``)
FIELD_NAMES = {"url": "url", "event_types": "eventTypes", "event_type": "eventType", "description": "description"}


# --- Schemas --------------------------------------------------------------------------------------


class EndpointIn(Body):
    url: str = Field(..., min_length=1, max_length=500)
    eventTypes: list[str] = Field(default_factory=list)
    description: str = Field("", max_length=200)


class EndpointPatch(Body):
    url: str | None = Field(None, min_length=1, max_length=500)
    eventTypes: list[str] | None = None
    description: str | None = Field(None, max_length=200)


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    eventTypes: list[str]
    enabled: bool
    disabledReason: str | None
    failingSince: datetime | None
    createdAt: datetime
    links: dict[str, str] = Field(
        ...,
        description="Related resources (relative URLs): self, deliveries.",
        examples=[{"self": "/api/v1/webhooks/3", "deliveries": "/api/v1/webhooks/3/deliveries"}],
    )


class EndpointWithSecretOut(EndpointOut):
    secret: str


class EndpointList(Schema):
    data: list[EndpointOut]
    pagination: Pagination


class AttemptOut(Schema):
    attemptedAt: datetime
    statusCode: int | None
    durationMs: int
    responseExcerpt: str
    error: str | None


class DeliveryOut(Schema):
    id: int
    endpointId: int
    eventId: str
    eventType: str
    status: str
    attemptCount: int
    lastStatusCode: int | None
    nextAttemptAt: datetime | None
    createdAt: datetime
    attempts: list[AttemptOut]


class DeliveryList(Schema):
    data: list[DeliveryOut]
    pagination: Pagination


class RedeliverFailedIn(Body):
    since: AwareDatetime


class RedeliverFailedOut(Schema):
    queued: int


# --- Serializers ----------------------------------------------------------------------------------


def _endpoint_data(endpoint: WebhookEndpoint) -> dict:
    """An endpoint as the API shows it: never its secret."""
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "eventTypes": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason or None,
        "failingSince": endpoint.failing_since,
        "createdAt": endpoint.created_at,
        "links": {"self": f"/api/v1/webhooks/{endpoint.pk}", "deliveries": f"/api/v1/webhooks/{endpoint.pk}/deliveries"},
    }


def _endpoint_with_secret(endpoint: WebhookEndpoint) -> dict:
    return {**_endpoint_data(endpoint), "secret": endpoint.secret}


def _delivery_data(delivery: WebhookDelivery) -> dict:
    """A delivery with its attempts (prefetched by the caller for lists)."""
    return {
        "id": delivery.pk,
        "endpointId": delivery.endpoint_id,
        "eventId": delivery.outbox_event.public_id,
        "eventType": delivery.outbox_event.event_type,
        "status": delivery.status,
        "attemptCount": delivery.attempt_count,
        "lastStatusCode": delivery.last_status_code,
        "nextAttemptAt": delivery.next_attempt_at,
        "createdAt": delivery.created_at,
        "attempts": [
            {
                "attemptedAt": a.attempted_at,
                "statusCode": a.status_code,
                "durationMs": a.duration_ms,
                "responseExcerpt": a.response_excerpt,
                "error": a.error or None,
            }
            for a in delivery.attempts.all()
        ],
    }


def _delivery_out(org, delivery_id: int) -> dict:
    delivery = selectors.webhook_delivery_list(org=org).prefetch_related("attempts").get(pk=delivery_id)
    return _delivery_data(delivery)


# --- Endpoints ------------------------------------------------------------------------------------


@router.post(
    "",
    auth=scoped("webhooks:write"),
    response={201: EndpointWithSecretOut, WRITE_ERRORS: ErrorOut},
    summary="Create a webhook endpoint",
    description="Subscribe `url` to `eventTypes` (empty: every event type). The answer carries the signing `secret`: "
    "this is the only time it is shown, so store it now. Targets must be https on a public address. "
    "Needs `webhooks:write`.",
)
def webhook_endpoint_create(request: HttpRequest, payload: EndpointIn):
    principal = require_scope(request, "webhooks:write")
    with api_names(FIELD_NAMES):
        endpoint = services.webhook_endpoint_create(
            org=principal.organization,
            actor=None,
            url=payload.url,
            event_types=payload.eventTypes,
            description=payload.description,
        )
    return Status(201, _endpoint_with_secret(endpoint))


@router.get(
    "",
    auth=scoped("webhooks:read"),
    response={200: EndpointList, READ_ERRORS: ErrorOut},
    summary="List webhook endpoints",
    description="Oldest first; page with `page`+`pageSize` or `limit`+`offset`. Needs `webhooks:read`.",
)
def webhook_endpoint_list(request: HttpRequest, response: HttpResponse):
    principal = require_scope(request, "webhooks:read")
    return paginate(request, response, selectors.webhook_endpoint_list(org=principal.organization), _endpoint_data)


@router.get(
    "/{int:endpoint_id}",
    auth=scoped("webhooks:read"),
    response={200: EndpointOut, READ_ERRORS: ErrorOut},
    summary="Get a webhook endpoint",
    description="The secret is not shown; rotate it to get a new one. Needs `webhooks:read`.",
)
def webhook_endpoint_detail(request: HttpRequest, endpoint_id: int):
    principal = require_scope(request, "webhooks:read")
    return _endpoint_data(selectors.webhook_endpoint_get(org=principal.organization, endpoint_id=endpoint_id))


@router.patch(
    "/{int:endpoint_id}",
    auth=scoped("webhooks:write"),
    response={200: EndpointOut, WRITE_ERRORS: ErrorOut},
    summary="Update a webhook endpoint",
    description="Send only the fields to change: `url`, `eventTypes` (empty: every event type), `description`. "
    "Needs `webhooks:write`.",
)
def webhook_endpoint_update(request: HttpRequest, endpoint_id: int, payload: EndpointPatch):
    principal = require_scope(request, "webhooks:write")
    with api_names(FIELD_NAMES):
        endpoint = services.webhook_endpoint_update(
            org=principal.organization,
            actor=None,
            endpoint_id=endpoint_id,
            url=payload.url,
            event_types=payload.eventTypes,
            description=payload.description,
        )
    return _endpoint_data(endpoint)


@router.delete(
    "/{int:endpoint_id}",
    auth=scoped("webhooks:write"),
    response={204: None, WRITE_ERRORS: ErrorOut},
    summary="Delete a webhook endpoint",
    description="Removes the endpoint with its delivery history. Needs `webhooks:write`.",
)
def webhook_endpoint_delete(request: HttpRequest, endpoint_id: int):
    principal = require_scope(request, "webhooks:write")
    services.webhook_endpoint_delete(org=principal.organization, actor=None, endpoint_id=endpoint_id)
    return Status(204, None)


@router.post(
    "/{int:endpoint_id}/enable",
    auth=scoped("webhooks:write"),
    response={200: EndpointOut, WRITE_ERRORS: ErrorOut},
    summary="Enable a webhook endpoint",
    description="Its pending deliveries resume on their schedule. Needs `webhooks:write`.",
)
def webhook_endpoint_enable(request: HttpRequest, endpoint_id: int):
    principal = require_scope(request, "webhooks:write")
    return _endpoint_data(services.webhook_endpoint_enable(org=principal.organization, actor=None, endpoint_id=endpoint_id))


@router.post(
    "/{int:endpoint_id}/disable",
    auth=scoped("webhooks:write"),
    response={200: EndpointOut, WRITE_ERRORS: ErrorOut},
    summary="Disable a webhook endpoint",
    description="Nothing is sent to it until it is enabled again; its deliveries wait. Needs `webhooks:write`.",
)
def webhook_endpoint_disable(request: HttpRequest, endpoint_id: int):
    principal = require_scope(request, "webhooks:write")
    endpoint = services.webhook_endpoint_disable(org=principal.organization, actor=None, endpoint_id=endpoint_id)
    return _endpoint_data(endpoint)


@router.post(
    "/{int:endpoint_id}/rotate-secret",
    auth=scoped("webhooks:write"),
    response={200: EndpointWithSecretOut, WRITE_ERRORS: ErrorOut},
    summary="Rotate a webhook endpoint's secret",
    description="Answers the new `secret` (shown this once). For 24 hours messages carry a signature with the old "
    "secret too, so receivers can switch without losing any. Needs `webhooks:write`.",
)
def webhook_endpoint_rotate_secret(request: HttpRequest, endpoint_id: int):
    principal = require_scope(request, "webhooks:write")
    endpoint = services.webhook_endpoint_rotate_secret(org=principal.organization, actor=None, endpoint_id=endpoint_id)
    return _endpoint_with_secret(endpoint)


@router.post(
    "/{int:endpoint_id}/test",
    auth=scoped("webhooks:write"),
    response={202: DeliveryOut, WRITE_ERRORS: ErrorOut},
    summary="Send a test event",
    description='Sends a signed test event (its `data` is `{"test": true, …}`) to this endpoint only, of the type '
    "given as the `eventType` query parameter (default: the endpoint's first event type). Answers 202 with the "
    "delivery; follow it in the deliveries. A disabled endpoint answers 409. Needs `webhooks:write`.",
)
def webhook_endpoint_test(request: HttpRequest, endpoint_id: int, eventType: str | None = None):
    principal = require_scope(request, "webhooks:write")
    with api_names(FIELD_NAMES):
        delivery = services.webhook_endpoint_send_test(
            org=principal.organization,
            actor=None,
            endpoint_id=endpoint_id,
            event_type=eventType or None,
        )
    return Status(202, _delivery_out(principal.organization, delivery.pk))


# --- Deliveries -----------------------------------------------------------------------------------


@router.get(
    "/{int:endpoint_id}/deliveries",
    auth=scoped("webhooks:read"),
    response={200: DeliveryList, READ_ERRORS: ErrorOut},
    summary="List an endpoint's deliveries",
    description="Newest first, each with its attempts. Filter with `status` and `eventType`; page with "
    "`page`+`pageSize` or `limit`+`offset`. Needs `webhooks:read`.",
)
def webhook_delivery_list(
    request: HttpRequest,
    response: HttpResponse,
    endpoint_id: int,
    status: DeliveryStatus | None = None,
    eventType: str | None = None,
):
    principal = require_scope(request, "webhooks:read")
    org = principal.organization
    selectors.webhook_endpoint_get(org=org, endpoint_id=endpoint_id)
    if eventType and eventType not in EVENT_TYPES:
        raise InvalidEventTypes(f"Unknown event type: {eventType}.", field="eventType", unknown=[eventType])
    qs = selectors.webhook_delivery_list(org=org, endpoint_id=endpoint_id, status=status or None, event_type=eventType)
    return paginate(request, response, qs.prefetch_related("attempts"), _delivery_data)


@router.post(
    "/{int:endpoint_id}/deliveries/{int:delivery_id}/redeliver",
    auth=scoped("webhooks:write"),
    response={202: DeliveryOut, WRITE_ERRORS: ErrorOut},
    summary="Redeliver a delivery",
    description="Sends it again with a fresh retry schedule, whatever became of it. A disabled endpoint answers 409. "
    "Needs `webhooks:write`.",
)
def webhook_delivery_redeliver(request: HttpRequest, endpoint_id: int, delivery_id: int):
    principal = require_scope(request, "webhooks:write")
    org = principal.organization
    delivery = selectors.webhook_delivery_get(org=org, delivery_id=delivery_id)
    if delivery.endpoint_id != endpoint_id:
        raise NotFound("The requested webhook delivery could not be found.", delivery_id=delivery_id)
    services.delivery_redeliver(org=org, actor=None, delivery_id=delivery_id)
    return Status(202, _delivery_out(org, delivery_id))


@router.post(
    "/{int:endpoint_id}/redeliver-failed",
    auth=scoped("webhooks:write"),
    response={202: RedeliverFailedOut, WRITE_ERRORS: ErrorOut},
    summary="Redeliver every failed delivery since a time",
    description="Queues again each failed delivery of this endpoint created at or after `since`; answers how many. "
    "A disabled endpoint answers 409. Needs `webhooks:write`.",
)
def webhook_endpoint_redeliver_failed(request: HttpRequest, endpoint_id: int, payload: RedeliverFailedIn):
    principal = require_scope(request, "webhooks:write")
    queued = services.webhook_endpoint_redeliver_failed(
        org=principal.organization, actor=None, endpoint_id=endpoint_id, since=payload.since
    )
    return Status(202, {"queued": queued})
