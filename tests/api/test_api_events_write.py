"""Event writes through the API, conditional reads (ETag) and Idempotency-Key on creating POSTs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from events.models import Event, EventStatus
from integrations.models import OutboxEvent
from portal.models import IdempotencyRecord
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db


def iso(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def event_body(**overrides) -> dict:
    start = (timezone.now() + timedelta(days=20)).replace(microsecond=0)
    body = {
        "title": "API Summit",
        "startsAt": iso(start),
        "endsAt": iso(start + timedelta(hours=6)),
        "timezone": "Europe/Berlin",
        "venue": {"name": "Hall 3", "address": "1 Main St"},
    }
    body.update(overrides)
    return body


def post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def test_create_event_answers_201_with_the_draft_and_audits_the_key(org, api_client, api_key):
    response = post(api_client, "/api/v1/events", event_body())

    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["status"], body["slug"], body["venue"]) == (
        "API Summit",
        "draft",
        "api-summit",
        {"name": "Hall 3", "address": "1 Main St"},
    )
    assert Event.objects.for_org(org).get().pk == body["id"]
    entry = AuditEntry.objects.for_org(org).get(action="events.event.created")
    assert entry.actor_label == f"api-key {api_key[0].display}"


@pytest.mark.parametrize(
    ("overrides", "status", "code", "target"),
    [
        ({"endsAt": "2020-01-01T00:00:00Z"}, 422, "VALIDATION_ERROR", "endsAt"),
        ({"venue": None}, 422, "VALIDATION_ERROR", "venue"),
        ({"timezone": "Mars/Olympus"}, 422, "VALIDATION_ERROR", "timezone"),
        ({"startsAt": "not a date"}, 422, "VALIDATION_ERROR", "startsAt"),
        ({"title": ""}, 422, "VALIDATION_ERROR", "title"),
        ({"seriesId": 999999}, 422, "VALIDATION_ERROR", "seriesId"),
    ],
)
def test_create_event_errors_name_the_field_and_save_nothing(org, api_client, overrides, status, code, target):
    error = assert_envelope(post(api_client, "/api/v1/events", event_body(**overrides)), status, code)

    assert error["target"] == target
    assert Event.objects.for_org(org).count() == 0


def test_update_publish_and_cancel_an_event(org, api_client):
    event = make_event(org, title="Before")
    make_ticket_type(event)
    OutboxEvent.objects.all().delete()

    patched = api_client.patch(f"/api/v1/events/{event.pk}", json.dumps({"title": "After"}), content_type="application/json")
    published = api_client.post(f"/api/v1/events/{event.pk}/publish")
    no_reason = post(api_client, f"/api/v1/events/{event.pk}/cancel", {})
    cancelled = post(api_client, f"/api/v1/events/{event.pk}/cancel", {"reason": "Storm"})

    assert patched.json()["title"] == "After"
    assert published.json()["status"] == "published"
    assert_envelope(no_reason, 422, "VALIDATION_ERROR")
    assert (cancelled.json()["status"], cancelled.json()["cancellationReason"]) == ("cancelled", "Storm")
    assert list(OutboxEvent.objects.order_by("id").values_list("event_type", flat=True)) == [
        "event.updated",
        "event.published",
        "event.cancelled",
    ]


def test_publishing_twice_is_a_conflict(org, api_client):
    event = make_event(org, publish=True)

    assert_envelope(api_client.post(f"/api/v1/events/{event.pk}/publish"), 409, "INVALID_EVENT_STATE")


def test_writes_need_the_write_scope_and_stay_in_the_organization(org, other_org):
    from accounts.services import api_key_create
    from tests.api.conftest import ApiClient

    reader = ApiClient(api_key_create(org=org, actor=None, name="r", scopes=["events:read"])[1])
    writer = ApiClient(api_key_create(org=org, actor=None, name="w", scopes=["events:write"])[1])
    foreign = other_org.events.get()

    assert_envelope(post(reader, "/api/v1/events", event_body()), 403, "INSUFFICIENT_SCOPE")
    assert_envelope(writer.post(f"/api/v1/events/{foreign.pk}/publish"), 404, "RESOURCE_NOT_FOUND")
    assert_envelope(post(writer, f"/api/v1/events/{foreign.pk}/cancel", {"reason": "x"}), 404, "RESOURCE_NOT_FOUND")
    foreign.refresh_from_db()
    assert foreign.status == EventStatus.PUBLISHED


def test_etag_and_if_none_match_answer_304_until_the_event_changes(org, api_client):
    event = make_event(org, title="Cached")
    first = api_client.get(f"/api/v1/events/{event.pk}")

    again = api_client.get(f"/api/v1/events/{event.pk}", headers={"If-None-Match": first["ETag"]})
    api_client.patch(f"/api/v1/events/{event.pk}", json.dumps({"title": "Changed"}), content_type="application/json")
    changed = api_client.get(f"/api/v1/events/{event.pk}", headers={"If-None-Match": first["ETag"]})

    assert first["ETag"].startswith('"')
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", first["ETag"])
    assert "X-RateLimit-Remaining" in again
    assert changed.status_code == 200
    assert changed.json()["title"] == "Changed"


def test_idempotency_key_replays_the_stored_answer(org, api_client):
    body = event_body()

    first = post(api_client, "/api/v1/events", body, **{"Idempotency-Key": "abc-1"})
    replay = post(api_client, "/api/v1/events", body, **{"Idempotency-Key": "abc-1"})

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Event.objects.for_org(org).count() == 1


def test_idempotency_key_with_another_body_is_refused(org, api_client):
    post(api_client, "/api/v1/events", event_body(), **{"Idempotency-Key": "abc-2"})

    error = assert_envelope(
        post(api_client, "/api/v1/events", event_body(title="Other"), **{"Idempotency-Key": "abc-2"}),
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )

    assert error["target"] == "Idempotency-Key"
    assert Event.objects.for_org(org).count() == 1


def test_idempotency_keys_expire_after_24_hours(org, api_client):
    body = event_body()
    post(api_client, "/api/v1/events", body, **{"Idempotency-Key": "abc-3"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = post(api_client, "/api/v1/events", body, **{"Idempotency-Key": "abc-3"})

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Event.objects.for_org(org).count() == 2
