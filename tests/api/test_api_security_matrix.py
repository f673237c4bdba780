"""Every operation of the OpenAPI document × a credential lacking its scope → 403, and × another
organization's ids → 404. Operations are read from the document, so a new endpoint is covered (and one
that declares no scope fails here unless it is listed below with the reason)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import API_SCOPES, Role
from accounts.services import api_key_create
from events import services, services_payments
from integrations import services as webhook_services
from integrations.models import OutboxEvent
from portal.api import api
from tests.api.conftest import ApiClient
from tests.factories import make_event, make_member

#: operations any valid credential may call, and why
UNSCOPED = {
    ("get", "/api/v1/users/me"): "a credential can always describe itself",
    ("get", "/api/v1/events/{event_id}/checkin-key"): "scanners hold checkins:write, back offices events:read: either",
}

SCHEMA = api.get_openapi_schema()
OPERATIONS = [
    (method, path, operation) for path, operations in SCHEMA["paths"].items() for method, operation in operations.items()
]


def _scope(operation: dict) -> str | None:
    scopes = [scope for requirement in operation.get("security", []) for scopes in requirement.values() for scope in scopes]
    return scopes[0] if scopes else None


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), schema["anyOf"][0])
        return _resolve(schema)
    return schema


def _value(schema: dict):
    """A plausible value for a JSON schema: enough to pass validation, so the answer is about access."""
    schema = _resolve(schema)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: _value(sub) for name, sub in schema.get("properties", {}).items() if name in schema.get("required", [])}
    if kind == "array":
        return [_value(schema.get("items", {}))] if schema.get("minItems") else []
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return (timezone.now() + timedelta(days=3)).isoformat()
    if schema.get("format") == "email":
        return "someone@example.com"
    if schema.get("format") == "uri":
        return "https://example.com/hook"
    return "x" * max(schema.get("minLength", 1), 1)


def _body(operation: dict):
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return _value(content["schema"]) if content else None


def _call(client: ApiClient, method: str, path: str, operation: dict):
    body = _body(operation)
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_needs_its_scope(org, method, path, operation):
    scope = _scope(operation)
    if scope is None:
        assert (method, path) in UNSCOPED, f"{method.upper()} {path} declares no scope"
        return
    _, secret = api_key_create(org=org, actor=None, name="almost", scopes=[s for s in API_SCOPES if s != scope])
    url = re.sub(r"\{[^}]+\}", "1", path)

    response = _call(ApiClient(secret), method, url, operation)

    assert response.status_code == 403, (url, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == "INSUFFICIENT_SCOPE"
    assert error["details"]["requiredScope"] == scope


def test_checkin_key_needs_one_of_its_two_scopes(org):
    event = make_event(org)
    url = f"/api/v1/events/{event.pk}/checkin-key"
    neither = [s for s in API_SCOPES if s not in ("checkins:write", "events:read")]

    assert ApiClient(api_key_create(org=org, actor=None, name="no", scopes=neither)[1]).get(url).status_code == 403
    for scope in ("checkins:write", "events:read"):
        assert ApiClient(api_key_create(org=org, actor=None, name=scope, scopes=[scope])[1]).get(url).status_code == 200


@pytest.fixture
def their_ids(other_org):
    """One of everything the API addresses by id, owned by the other organization."""
    event = other_org.events.get()
    registration = event.registrations.get()
    session = services.session_create(
        org=other_org, actor=None, event_id=event.pk, title="Secret talk", starts_at=event.starts_at, ends_at=event.ends_at
    )
    registration.status = "pending_payment"
    registration.save(update_fields=["status"])
    payment = services_payments.payment_record(
        org=other_org, actor=None, registration_id=registration.pk, amount=Decimal("1.00"), reference="r"
    )
    endpoint = webhook_services.webhook_endpoint_create(org=other_org, actor=None, url="https://hooks.example.com/x")
    delivery_ids = webhook_services.outbox_fan_out(outbox_event_id=OutboxEvent.objects.filter(organization=other_org).last().pk)
    member = make_member(other_org, Role.VIEWER)
    return {
        "event_id": event.pk,
        "registration_id": registration.pk,
        "session_id": session.pk,
        "payment_id": payment.pk,
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery_ids[0],
        "user_id": member.pk,
    }


ADDRESSED = [(m, p, o) for m, p, o in OPERATIONS if "{" in p]


@pytest.mark.parametrize(("method", "path", "operation"), ADDRESSED, ids=[f"{m.upper()} {p}" for m, p, _ in ADDRESSED])
def test_another_organizations_ids_answer_404(org, api_client, their_ids, method, path, operation):
    names = re.findall(r"\{([^}]+)\}", path)
    missing = [name for name in names if name not in their_ids]
    assert not missing, f"give the test an id of the other organization for {missing}"
    url = re.sub(r"\{([^}]+)\}", lambda m: str(their_ids[m.group(1)]), path)

    response = _call(api_client, method, url, operation)

    assert response.status_code == 404, (url, response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_every_schema_name_in_the_document_means_one_thing():
    """Two request or response models sharing a class name would share one OpenAPI component: one of them
    would be documented wrong (it happened to two different CancelIn bodies)."""
    from ninja import Schema

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [cls for cls in subclasses(Schema) if cls.__module__.split(".")[0] in {"events", "accounts", "integrations", "portal"}]
    names = [cls.__name__ for cls in ours]
    assert sorted({n for n in names if names.count(n) > 1}) == []
