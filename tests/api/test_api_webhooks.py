"""/api/v1/webhooks: endpoints, secrets shown once, test events, deliveries with attempts, redelivery, scopes, tenancy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import AuditEntry
from accounts.services import api_key_create
from integrations import services
from integrations.models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_org
from tests.integrations.conftest import Receiver

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/convene"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def make_endpoint(org, url=URL, **kwargs) -> WebhookEndpoint:
    return services.webhook_endpoint_create(org=org, actor=None, url=url, **kwargs)


def make_delivery(endpoint, *, event_type="registration.confirmed", status=DeliveryStatus.FAILED, attempts=(500,)):
    event = OutboxEvent.objects.create(
        organization=endpoint.organization, event_type=event_type, payload={"id": 1}, dispatched_at=timezone.now()
    )
    delivery = WebhookDelivery.objects.create(
        organization=endpoint.organization,
        endpoint=endpoint,
        outbox_event=event,
        status=status,
        attempt_count=len(attempts),
        last_status_code=attempts[-1] if attempts else None,
    )
    for code in attempts:
        WebhookAttempt.objects.create(
            organization=endpoint.organization,
            delivery=delivery,
            status_code=code,
            duration_ms=12,
            response_excerpt="nope" if code else "",
            error="" if code else "Connection refused",
        )
    return delivery


# --- Create / read ----------------------------------------------------------------------------------


def test_create_answers_201_with_the_endpoint_and_its_secret(api_client, org):
    response = api_client.post(
        "/api/v1/webhooks",
        {"url": URL, "eventTypes": ["registration.confirmed", "event.created"], "description": "CRM"},
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert body == {
        "id": endpoint.pk,
        "url": URL,
        "description": "CRM",
        "eventTypes": ["event.created", "registration.confirmed"],
        "enabled": True,
        "disabledReason": None,
        "failingSince": None,
        "createdAt": body["createdAt"],
        "secret": endpoint.secret,
        "links": {"self": f"/api/v1/webhooks/{endpoint.pk}", "deliveries": f"/api/v1/webhooks/{endpoint.pk}/deliveries"},
    }
    assert body["secret"].startswith("whsec_")


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "Webhook URLs must use https://."),
        ("https://127.0.0.1/hook", "Webhook URLs must point to a public address."),
        ("not a url", "Enter a full URL, starting with https://."),
    ],
)
def test_create_with_a_bad_url_answers_422_on_url(api_client, org, url, message):
    response = api_client.post("/api/v1/webhooks", {"url": url}, content_type="application/json")

    error = assert_envelope(response, 422, "INVALID_WEBHOOK_URL")
    assert (error["target"], error["message"]) == ("url", message)
    assert WebhookEndpoint.objects.filter(organization=org).count() == 0


def test_create_with_an_unknown_event_type_answers_422_on_event_types(api_client, org):
    response = api_client.post(
        "/api/v1/webhooks", {"url": URL, "eventTypes": ["event.created", "party.started"]}, content_type="application/json"
    )

    error = assert_envelope(response, 422, "INVALID_EVENT_TYPES")
    assert error["target"] == "eventTypes"
    assert error["details"] == {"unknown": ["party.started"]}
    assert WebhookEndpoint.objects.filter(organization=org).count() == 0


def test_list_pages_endpoints_without_secrets(api_client, org):
    first, second = make_endpoint(org, description="a"), make_endpoint(org, description="b")

    response = api_client.get("/api/v1/webhooks?pageSize=1&page=2")

    assert response.status_code == 200
    body = response.json()
    assert [e["id"] for e in body["data"]] == [second.pk]
    assert {k: v for k, v in body["pagination"].items() if v is not None} == {
        "total": 2,
        "page": 2,
        "pageSize": 1,
        "totalPages": 2,
    }
    assert "secret" not in body["data"][0]
    assert first.secret not in response.content.decode()


def test_list_query_count_does_not_grow_with_endpoints(api_client, org):
    make_endpoint(org)
    api_client.get("/api/v1/webhooks")  # the key's first use of the minute records it: keep that out of the count
    with CaptureQueriesContext(connection) as one:
        assert api_client.get("/api/v1/webhooks").status_code == 200
    make_endpoint(org)
    make_endpoint(org)

    with CaptureQueriesContext(connection) as three:
        response = api_client.get("/api/v1/webhooks")

    assert len(response.json()["data"]) == 3
    assert len(three) == len(one)


def test_detail_shows_the_endpoint_without_its_secret(api_client, org):
    endpoint = make_endpoint(org, event_types=["checkin.completed"])

    response = api_client.get(f"/api/v1/webhooks/{endpoint.pk}")

    assert response.status_code == 200
    assert response.json()["eventTypes"] == ["checkin.completed"]
    assert "secret" not in response.json()
    assert endpoint.secret not in response.content.decode()


# --- Writes -----------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(api_client, org):
    endpoint = make_endpoint(org, description="old", event_types=["event.created"])

    response = api_client.patch(
        f"/api/v1/webhooks/{endpoint.pk}", {"eventTypes": ["payment.failed"]}, content_type="application/json"
    )

    assert response.status_code == 200
    assert (response.json()["eventTypes"], response.json()["description"], response.json()["url"]) == (
        ["payment.failed"],
        "old",
        URL,
    )
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["payment.failed"]


def test_patch_with_an_unknown_event_type_changes_nothing(api_client, org):
    endpoint = make_endpoint(org, event_types=["event.created"])

    response = api_client.patch(
        f"/api/v1/webhooks/{endpoint.pk}",
        {"url": "https://new.example.com", "eventTypes": ["nope"]},
        content_type="application/json",
    )

    assert assert_envelope(response, 422, "INVALID_EVENT_TYPES")["target"] == "eventTypes"
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.event_types) == (URL, ["event.created"])


def test_disable_then_enable_switches_the_endpoint(api_client, org):
    endpoint = make_endpoint(org)

    disabled = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/disable")
    enabled = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/enable")

    assert (disabled.status_code, disabled.json()["enabled"], disabled.json()["disabledReason"]) == (
        200,
        False,
        "Disabled by a user.",
    )
    assert (enabled.status_code, enabled.json()["enabled"], enabled.json()["disabledReason"]) == (200, True, None)


def test_delete_answers_204_and_removes_the_endpoint_and_its_deliveries(api_client, org):
    endpoint = make_endpoint(org)
    make_delivery(endpoint)

    response = api_client.delete(f"/api/v1/webhooks/{endpoint.pk}")

    assert (response.status_code, response.content) == (204, b"")
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists() is False
    assert WebhookDelivery.objects.filter(organization=org).count() == 0
    assert AuditEntry.objects.filter(organization=org, action="integrations.webhook_endpoint.deleted").count() == 1
    assert_envelope(api_client.get(f"/api/v1/webhooks/{endpoint.pk}"), 404, "RESOURCE_NOT_FOUND")


def test_rotate_secret_answers_the_new_secret_once(api_client, org):
    endpoint = make_endpoint(org)
    old_secret = endpoint.secret

    response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")

    endpoint.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["secret"] == endpoint.secret
    assert endpoint.secret != old_secret
    assert endpoint.secret not in api_client.get(f"/api/v1/webhooks/{endpoint.pk}").content.decode()
    assert endpoint.secret not in api_client.get("/api/v1/webhooks").content.decode()


# --- Test event -------------------------------------------------------------------------------------


def test_test_event_reaches_that_endpoint_only_and_verifies(api_client, org, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(org, url=receiver.url, event_types=["registration.confirmed"])
    bystander = Receiver()
    try:
        make_endpoint(org, url=bystander.url)

        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/test")

        assert bystander.posts() == []
    finally:
        bystander.stop()
    assert response.status_code == 202
    assert (response.json()["eventType"], response.json()["status"]) == ("registration.confirmed", "pending")
    [request] = receiver.posts()
    message = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert (message["event"], message["data"]["test"]) == ("registration.confirmed", True)
    assert message["id"] == response.json()["eventId"]
    delivery = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 200)
    assert list(
        AuditEntry.objects.filter(organization=org, action="integrations.webhook_endpoint.test_sent").values_list(
            "object_id", flat=True
        )
    ) == [str(endpoint.pk)]


def test_test_event_of_an_unknown_type_answers_422_on_event_type(api_client, org):
    endpoint = make_endpoint(org)

    response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/test?eventType=nope")

    assert assert_envelope(response, 422, "INVALID_EVENT_TYPES")["target"] == "eventType"
    assert WebhookDelivery.objects.filter(organization=org).count() == 0


def test_test_event_to_a_disabled_endpoint_answers_409(api_client, org):
    endpoint = make_endpoint(org)
    services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=endpoint.pk)

    response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/test")

    assert_envelope(response, 409, "WEBHOOK_ENDPOINT_DISABLED")
    assert WebhookDelivery.objects.filter(organization=org).count() == 0


# --- Deliveries -------------------------------------------------------------------------------------


def test_deliveries_list_each_with_its_attempts(api_client, org):
    endpoint = make_endpoint(org)
    delivery = make_delivery(endpoint, attempts=(500, None))

    response = api_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries")

    assert response.status_code == 200
    [item] = response.json()["data"]
    assert (item["id"], item["eventId"], item["eventType"], item["status"], item["attemptCount"]) == (
        delivery.pk,
        delivery.outbox_event.public_id,
        "registration.confirmed",
        "failed",
        2,
    )
    assert [{k: a[k] for k in ("statusCode", "durationMs", "responseExcerpt", "error")} for a in item["attempts"]] == [
        {"statusCode": 500, "durationMs": 12, "responseExcerpt": "nope", "error": None},
        {"statusCode": None, "durationMs": 12, "responseExcerpt": "", "error": "Connection refused"},
    ]


def test_deliveries_filter_by_status_and_event_type(api_client, org):
    endpoint = make_endpoint(org)
    failed = make_delivery(endpoint, event_type="event.created")
    make_delivery(endpoint, event_type="event.created", status=DeliveryStatus.SUCCEEDED, attempts=(200,))
    make_delivery(endpoint, event_type="payment.failed")
    make_delivery(make_endpoint(org), event_type="event.created")

    response = api_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries?status=failed&eventType=event.created")

    assert [d["id"] for d in response.json()["data"]] == [failed.pk]


def test_deliveries_with_an_unknown_event_type_filter_answer_422(api_client, org):
    endpoint = make_endpoint(org)

    response = api_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries?eventType=nope")

    assert assert_envelope(response, 422, "INVALID_EVENT_TYPES")["target"] == "eventType"


def test_deliveries_query_count_does_not_grow_with_deliveries(api_client, org):
    endpoint = make_endpoint(org)
    make_delivery(endpoint)
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries"
    api_client.get(url)  # the key's first use of the minute records it: keep that out of the count
    with CaptureQueriesContext(connection) as one:
        assert api_client.get(url).status_code == 200
    make_delivery(endpoint, attempts=(500, 502, 503))
    make_delivery(endpoint)

    with CaptureQueriesContext(connection) as three:
        response = api_client.get(url)

    assert len(response.json()["data"]) == 3
    assert len(three) == len(one)


def test_redeliver_queues_the_delivery_again(api_client, org, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(org, url=receiver.url)
    delivery = make_delivery(endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver")

    assert (response.status_code, response.json()["id"], response.json()["status"]) == (202, delivery.pk, "pending")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)
    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [delivery.outbox_event.public_id]


def test_redeliver_of_another_endpoints_delivery_answers_404(api_client, org):
    endpoint, other = make_endpoint(org), make_endpoint(org)
    delivery = make_delivery(other)

    response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver")

    assert_envelope(response, 404, "RESOURCE_NOT_FOUND")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


def test_redeliver_failed_queues_failed_deliveries_since_the_time(api_client, org):
    endpoint = make_endpoint(org)
    old = make_delivery(endpoint)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    recent = [make_delivery(endpoint), make_delivery(endpoint)]
    make_delivery(endpoint, status=DeliveryStatus.SUCCEEDED, attempts=(200,))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    response = api_client.post(
        f"/api/v1/webhooks/{endpoint.pk}/redeliver-failed", {"since": since}, content_type="application/json"
    )

    assert (response.status_code, response.json()) == (202, {"queued": 2})
    assert set(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).values_list("id", flat=True)) == {
        d.pk for d in recent
    }
    old.refresh_from_db()
    assert old.status == DeliveryStatus.FAILED
    entry = AuditEntry.objects.get(organization=org, action="integrations.webhook_endpoint.failed_redelivered")
    assert entry.changes["count"] == 2


def test_redeliver_failed_to_a_disabled_endpoint_answers_409(api_client, org):
    endpoint = make_endpoint(org)
    delivery = make_delivery(endpoint)
    services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=endpoint.pk)

    response = api_client.post(
        f"/api/v1/webhooks/{endpoint.pk}/redeliver-failed", {"since": "2026-01-01T00:00:00Z"}, content_type="application/json"
    )

    assert_envelope(response, 409, "WEBHOOK_ENDPOINT_DISABLED")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


def test_redeliver_failed_needs_an_aware_since(api_client, org):
    endpoint = make_endpoint(org)

    response = api_client.post(
        f"/api/v1/webhooks/{endpoint.pk}/redeliver-failed", {"since": "2026-01-01T00:00:00"}, content_type="application/json"
    )

    assert assert_envelope(response, 422, "VALIDATION_ERROR")["target"] == "since"


# --- Scopes and tenancy -----------------------------------------------------------------------------

ROUTES = [
    ("get", "/api/v1/webhooks", "webhooks:read", None),
    ("post", "/api/v1/webhooks", "webhooks:write", {"url": URL}),
    ("get", "/api/v1/webhooks/{id}", "webhooks:read", None),
    ("patch", "/api/v1/webhooks/{id}", "webhooks:write", {"description": "x"}),
    ("delete", "/api/v1/webhooks/{id}", "webhooks:write", None),
    ("post", "/api/v1/webhooks/{id}/enable", "webhooks:write", None),
    ("post", "/api/v1/webhooks/{id}/disable", "webhooks:write", None),
    ("post", "/api/v1/webhooks/{id}/rotate-secret", "webhooks:write", None),
    ("post", "/api/v1/webhooks/{id}/test", "webhooks:write", None),
    ("get", "/api/v1/webhooks/{id}/deliveries", "webhooks:read", None),
    ("post", "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", "webhooks:write", None),
    ("post", "/api/v1/webhooks/{id}/redeliver-failed", "webhooks:write", {"since": "2026-01-01T00:00:00Z"}),
]


def call(client, method, path, body):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_every_route_needs_its_scope(org, method, path, scope, body):
    endpoint = make_endpoint(org)
    delivery = make_delivery(endpoint)
    other_scope = "webhooks:write" if scope == "webhooks:read" else "webhooks:read"
    client = ApiClient(api_key_create(org=org, actor=None, name="narrow", scopes=["events:read", other_scope])[1])

    response = call(client, method, path.format(id=endpoint.pk, delivery=delivery.pk), body)

    assert assert_envelope(response, 403, "INSUFFICIENT_SCOPE")["details"] == {"requiredScope": scope}
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
    assert WebhookEndpoint.objects.filter(organization=org).count() == 1


@pytest.mark.parametrize(("method", "path", "scope", "body"), [r for r in ROUTES if "{id}" in r[1]])
def test_another_organizations_endpoint_answers_404(api_client, method, path, scope, body):
    foreign_org = make_org("Initech", slug="initech-test")
    foreign = make_endpoint(foreign_org)
    delivery = make_delivery(foreign)

    response = call(api_client, method, path.format(id=foreign.pk, delivery=delivery.pk), body)

    assert_envelope(response, 404, "RESOURCE_NOT_FOUND")
    foreign.refresh_from_db()
    assert (foreign.enabled, foreign.description, WebhookDelivery.objects.get(pk=delivery.pk).status) == (
        True,
        "",
        DeliveryStatus.FAILED,
    )


def test_the_secret_appears_only_in_create_and_rotate_answers(api_client, org, django_capture_on_commit_callbacks):
    created = api_client.post("/api/v1/webhooks", {"url": URL}, content_type="application/json").json()
    endpoint_id, secret = created["id"], created["secret"]
    make_delivery(WebhookEndpoint.objects.get(pk=endpoint_id))

    answers = [
        api_client.get("/api/v1/webhooks"),
        api_client.get(f"/api/v1/webhooks/{endpoint_id}"),
        api_client.patch(f"/api/v1/webhooks/{endpoint_id}", {"description": "d"}, content_type="application/json"),
        api_client.post(f"/api/v1/webhooks/{endpoint_id}/disable"),
        api_client.post(f"/api/v1/webhooks/{endpoint_id}/enable"),
        api_client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries"),
    ]

    assert [secret in a.content.decode() for a in answers] == [False] * 6
    assert json.loads(api_client.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret").content)["secret"] != secret
