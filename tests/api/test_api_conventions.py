"""The conventions every /api/v1 response keeps: error envelope, correlation id, rate limits, auth and scopes."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from portal.api.auth import KEY_CACHE_SECONDS
from tests.api.conftest import ApiClient
from tests.factories import make_event

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {"code", "message", "details", "target", "status", "timestamp", "correlationId", "documentation"}


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == ENVELOPE_KEYS
    assert (error["status"], error["code"]) == (status, code)
    assert error["correlationId"] == response["X-Correlation-ID"]
    assert error["documentation"].endswith(f"#{code}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", error["timestamp"])
    return error


def test_missing_or_wrong_key_answers_401_in_the_envelope(anon_client):
    assert_envelope(anon_client.get("/api/v1/events"), 401, "UNAUTHENTICATED")
    assert_envelope(ApiClient("cnv_live_nope").get("/api/v1/events"), 401, "UNAUTHENTICATED")


def test_revoked_key_no_longer_works(org):
    key, secret = api_key_create(org=org, actor=None, name="old", scopes=["events:read"])
    assert ApiClient(secret).get("/api/v1/events").status_code == 200

    api_key_revoke(org=org, actor=None, api_key_id=key.pk)

    assert_envelope(ApiClient(secret).get("/api/v1/events"), 401, "UNAUTHENTICATED")


def test_a_key_without_the_scope_gets_403(org):
    _key, secret = api_key_create(org=org, actor=None, name="webhooks only", scopes=["webhooks:read"])

    error = assert_envelope(ApiClient(secret).get("/api/v1/events"), 403, "INSUFFICIENT_SCOPE")

    assert error["details"] == {"requiredScope": "events:read"}


def test_unknown_urls_and_methods_answer_in_the_envelope(api_client):
    assert_envelope(api_client.get("/api/v1/no-such-thing"), 404, "RESOURCE_NOT_FOUND")
    response = api_client.delete("/api/v1/events")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")


def test_another_organizations_event_answers_404_like_a_missing_one(api_client, other_org):
    foreign = other_org.events.get()

    foreign_error = assert_envelope(api_client.get(f"/api/v1/events/{foreign.pk}"), 404, "RESOURCE_NOT_FOUND")
    missing_error = assert_envelope(api_client.get("/api/v1/events/999999"), 404, "RESOURCE_NOT_FOUND")

    assert foreign_error["message"] == missing_error["message"]


def test_validation_errors_name_the_parameter(api_client):
    error = assert_envelope(api_client.get("/api/v1/events?startsAfter=yesterday"), 422, "VALIDATION_ERROR")

    assert error["target"] == "startsAfter"


def test_correlation_id_is_echoed_or_generated(api_client):
    mine = "req-123"
    assert api_client.get("/api/v1/events", headers={"X-Correlation-ID": mine})["X-Correlation-ID"] == mine
    generated = api_client.get("/api/v1/events")["X-Correlation-ID"]
    assert str(uuid.UUID(generated)) == generated


def test_api_version_is_echoed(api_client):
    assert api_client.get("/api/v1/events", headers={"X-API-Version": "1.2"})["X-API-Version"] == "1.2"
    assert api_client.get("/api/v1/events")["X-API-Version"] == "1.0"


def test_rate_limit_headers_and_429_with_retry_after(org, monkeypatch):
    monkeypatch.setattr("portal.api.middleware.time.time", lambda: 1_800_000_030.5)  # 29.5 s before the minute ends
    _key, secret = api_key_create(org=org, actor=None, name="busy", scopes=["events:read"])
    client = ApiClient(secret)

    first = client.get("/api/v1/events")
    statuses = [client.get("/api/v1/events").status_code for _ in range(20)]

    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"], first["X-RateLimit-Reset"]) == ("60", "59", "30")
    assert statuses == [200] * 19 + [429]  # a user key may send 20 in one second
    limited = client.get("/api/v1/events")
    assert_envelope(limited, 429, "RATE_LIMITED")
    assert limited["Retry-After"] == "1"


def test_the_per_minute_limit_answers_when_the_minute_ends(org, monkeypatch):
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr("portal.api.middleware.time.time", lambda: clock["now"])
    _key, secret = api_key_create(org=org, actor=None, name="steady", scopes=["events:read"])
    client = ApiClient(secret)

    for i in range(60):
        clock["now"] = 1_800_000_000.0 + i * 0.5  # two a second: under the burst limit
        assert client.get("/api/v1/events").status_code == 200
    limited = client.get("/api/v1/events")

    assert_envelope(limited, 429, "RATE_LIMITED")
    assert limited["Retry-After"] == "31"
    clock["now"] = 1_800_000_060.0
    assert client.get("/api/v1/events").status_code == 200


def test_anonymous_callers_have_their_own_smaller_allowance(anon_client):
    response = anon_client.get("/api/v1/events")

    assert response["X-RateLimit-Limit"] == "30"


def test_event_list_is_scoped_to_the_keys_organization(org, api_client, other_org):
    mine = make_event(org, title="Ours", publish=True)

    body = api_client.get("/api/v1/events").json()

    assert [e["id"] for e in body["data"]] == [mine.pk]
    assert body["pagination"] == {
        "total": 1,
        "page": 1,
        "pageSize": 20,
        "totalPages": 1,
        "limit": None,
        "offset": None,
        "nextCursor": None,
    }


def test_event_list_pages_with_link_headers(org, api_client):
    events = [make_event(org, title=f"E{i}", days=i + 1) for i in range(5)]

    response = api_client.get("/api/v1/events?pageSize=2&page=2&status=draft")

    assert [e["id"] for e in response.json()["data"]] == [events[2].pk, events[3].pk]
    links = dict(re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"])[i][::-1] for i in range(4))
    assert links["next"].endswith("?status=draft&page=3&pageSize=2")
    assert links["prev"].endswith("?status=draft&page=1&pageSize=2")
    assert links["last"].endswith("?status=draft&page=3&pageSize=2")
    offset = api_client.get("/api/v1/events?limit=2&offset=4").json()
    assert [e["id"] for e in offset["data"]] == [events[4].pk]


def test_event_list_sorts_and_refuses_unknown_sort_fields(org, api_client):
    a, b = make_event(org, title="Alpha", days=2), make_event(org, title="Beta", days=1)

    assert [e["id"] for e in api_client.get("/api/v1/events?sort=-title").json()["data"]] == [b.pk, a.pk]
    error = assert_envelope(api_client.get("/api/v1/events?sort=colour"), 400, "INVALID_SORT")
    assert error["target"] == "sort"


def test_event_detail_is_the_same_shape_as_the_outbox_payload(org, api_client):
    event = make_event(org, title="Shape", publish=True)

    body = api_client.get(f"/api/v1/events/{event.pk}").json()

    from integrations.models import OutboxEvent

    published = OutboxEvent.objects.filter(event_type="event.published").get().payload
    assert body == published


def test_create_api_key_command_prints_the_key_once_and_stores_its_hash(org):
    org.is_sandbox = True  # test keys belong to sandboxes
    org.save(update_fields=["is_sandbox"])
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "create_api_key", org=org.slug, name="ci", scopes="events:read,registrations:read", test=True, stdout=out, stderr=err
    )

    secret = out.getvalue().strip()
    key = ApiKey.objects.get(organization=org)
    assert secret.startswith("cnv_test_")
    assert secret not in key.key_hash and key.display.startswith("cnv_test_")
    assert key.scopes == ["events:read", "registrations:read"]
    assert ApiClient(secret).get("/api/v1/events").status_code == 200


# --- Links ----------------------------------------------------------------------------------------


def test_an_event_links_to_its_related_resources(org, api_client):
    series = make_event(org, title="Meetups")
    child = make_event(org, title="Meetup #1", parent_id=series.pk)

    links = api_client.get(f"/api/v1/events/{child.pk}").json()["links"]
    series_links = api_client.get(f"/api/v1/events/{series.pk}").json()["links"]

    base = f"/api/v1/events/{child.pk}"
    assert links == {
        "self": base,
        "sessions": f"{base}/sessions",
        "registrations": f"/api/v1/registrations?eventId={child.pk}",
        "attendees": f"{base}/attendees",
        "statistics": f"{base}/statistics",
        "children": f"{base}/children",
        "series": f"/api/v1/events/{series.pk}",
        "calendar": f"{base}/calendar",
        "checkinKey": f"{base}/checkin-key",
    }
    assert "series" not in series_links


def test_links_lead_to_resources_the_api_serves(org, api_client, published_event):
    from events import services

    tt = published_event.ticket_types.first()
    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com")
    event_links = api_client.get(f"/api/v1/events/{published_event.pk}").json()["links"]
    reg_links = api_client.get(f"/api/v1/registrations/{reg.pk}").json()["links"]

    for name in ("self", "sessions", "registrations", "attendees", "statistics", "children"):
        assert api_client.get(event_links[name]).status_code == 200, name
    assert api_client.get(reg_links["self"]).json()["id"] == reg.pk
    assert api_client.get(reg_links["event"]).json()["id"] == published_event.pk


def test_webhook_payloads_carry_the_same_links_as_the_api(org, api_client, published_event):
    from events import services
    from integrations.models import OutboxEvent

    tt = published_event.ticket_types.first()
    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com")

    payload = OutboxEvent.objects.filter(event_type="registration.created").get().payload
    body = api_client.get(f"/api/v1/registrations/{reg.pk}").json()

    assert payload["links"] == body["links"]
    assert payload["links"]["payments"] == f"/api/v1/payments?registrationId={reg.pk}"


# --- Error details --------------------------------------------------------------------------------


def test_error_details_are_camel_case_whatever_the_service_named_them(org, api_client):
    from events import services

    event = make_event(org, publish=True, capacity=1)
    tt = event.ticket_types.get()
    services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com")

    response = api_client.post(
        "/api/v1/registrations",
        {"ticketTypeId": tt.pk, "name": "Bob", "email": "bob@example.com"},
        content_type="application/json",
    )

    error = assert_envelope(response, 409, "SOLD_OUT")
    assert error["details"] == {"ticketTypeId": tt.pk}  # the service says ticket_type_id


# --- Remembered keys ------------------------------------------------------------------------------


def test_a_key_revoked_by_another_worker_stops_working_within_seconds(org, monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr("portal.api.auth.time.monotonic", lambda: clock["now"])
    key, secret = api_key_create(org=org, actor=None, name="shared", scopes=["events:read"])
    client = ApiClient(secret)
    assert client.get("/api/v1/events").status_code == 200  # this worker now remembers the key

    # another worker revokes it: this process hears nothing (no signal), only the database changes
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    clock["now"] += KEY_CACHE_SECONDS + 0.1

    assert KEY_CACHE_SECONDS <= 5
    assert_envelope(client.get("/api/v1/events"), 401, "UNAUTHENTICATED")


def test_a_remembered_key_is_not_read_from_the_database_again(org, django_assert_num_queries):
    _key, secret = api_key_create(org=org, actor=None, name="hot", scopes=["events:read"])
    client = ApiClient(secret)
    client.get("/api/v1/events")  # reads the key (and writes its last use once)

    with django_assert_num_queries(1):  # the (empty) list of events, nothing for the key
        assert client.get("/api/v1/events").status_code == 200


def test_last_use_is_written_at_most_once_a_minute(org):
    key, secret = api_key_create(org=org, actor=None, name="busy", scopes=["events:read"])
    client = ApiClient(secret)

    client.get("/api/v1/events")
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    client.get("/api/v1/events")

    assert first is not None
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
