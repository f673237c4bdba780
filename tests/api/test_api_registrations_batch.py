"""PATCH /api/v1/registrations/{id} and POST /api/v1/registrations/batch (one by one, or all or nothing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import API_SCOPES, AuditEntry
from accounts.services import api_key_create
from events import services, snapshots
from events.models import Registration, RegistrationStatus
from integrations.models import OutboxEvent
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event

pytestmark = pytest.mark.django_db

JSON = "application/json"


def outbox_types(org) -> list[str]:
    return list(OutboxEvent.objects.filter(organization=org).order_by("pk").values_list("event_type", flat=True))


def make_session(event, title: str = "Talk", capacity: int | None = None):
    return services.session_create(
        org=event.organization,
        actor=None,
        event_id=event.pk,
        title=title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        capacity=capacity,
    )


def register(event, email: str, name: str = "Ada Lovelace", session_ids=()):
    return services.registration_create(
        org=event.organization,
        actor=None,
        ticket_type_id=event.ticket_types.get().pk,
        name=name,
        email=email,
        session_ids=session_ids,
    )


@pytest.fixture
def registration(published_event):
    return register(published_event, "ada@example.com")


def patch(client, reg, **body):
    return client.patch(f"/api/v1/registrations/{reg.pk}", body, content_type=JSON)


# --- Update ---------------------------------------------------------------------------------------


def test_update_the_name_and_email(api_client, org, registration, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = patch(api_client, registration, name="Ada King", email="ADA.KING@example.com")

    assert response.status_code == 200
    reg = Registration.objects.get(pk=registration.pk)
    assert response.json() == snapshots.registration_data(reg)
    assert (reg.name, reg.email, reg.sequence) == ("Ada King", "ada.king@example.com", registration.sequence + 1)
    assert reg.updated_at > registration.updated_at
    entry = AuditEntry.objects.get(organization=org, action="events.registration.updated")
    assert entry.changes == {"name": ["Ada Lovelace", "Ada King"], "email": ["ada@example.com", "ada.king@example.com"]}
    queued = [c.args[0] for c in callbacks if getattr(c, "func", None) is not None and c.args]
    assert "events.tasks.registration_changed_task" in queued  # the ticket is re-rendered


def test_update_publishes_no_webhook_event(api_client, org, registration):
    before = outbox_types(org)

    patch(api_client, registration, name="Ada King")

    assert outbox_types(org) == before


def test_update_with_nothing_changed_keeps_the_sequence(api_client, registration):
    response = patch(api_client, registration, name="Ada Lovelace")

    assert response.status_code == 200
    assert Registration.objects.get(pk=registration.pk).sequence == registration.sequence
    assert not AuditEntry.objects.filter(action="events.registration.updated").exists()


def test_update_replaces_the_sessions(api_client, published_event):
    keep, drop, add = (make_session(published_event, title) for title in ("Keep", "Drop", "Add"))
    reg = register(published_event, "s@example.com", session_ids=[keep.pk, drop.pk])

    response = patch(api_client, reg, sessionIds=[keep.pk, add.pk])

    assert response.status_code == 200
    assert response.json()["sessionIds"] == sorted([keep.pk, add.pk])
    assert sorted(Registration.objects.get(pk=reg.pk).sessions.values_list("pk", flat=True)) == sorted([keep.pk, add.pk])


def test_keeping_a_session_that_is_now_full_is_allowed(api_client, published_event):
    full = make_session(published_event, "Small room", capacity=1)
    reg = register(published_event, "s@example.com", session_ids=[full.pk])

    response = patch(api_client, reg, name="Renamed", sessionIds=[full.pk])

    assert response.status_code == 200
    assert response.json()["sessionIds"] == [full.pk]


def test_adding_a_full_session_answers_409_and_changes_nothing(api_client, published_event, registration):
    full = make_session(published_event, "Small room", capacity=1)
    register(published_event, "first@example.com", session_ids=[full.pk])

    response = patch(api_client, registration, name="Changed", sessionIds=[full.pk])

    error = assert_envelope(response, 409, "SESSION_FULL")
    assert error["target"] == "sessionIds"
    reg = Registration.objects.get(pk=registration.pk)
    assert (reg.name, list(reg.sessions.all())) == ("Ada Lovelace", [])


def test_adding_another_events_session_answers_422(api_client, org, registration):
    elsewhere = make_session(make_event(org, publish=True))

    error = assert_envelope(patch(api_client, registration, sessionIds=[elsewhere.pk]), 422, "VALIDATION_ERROR")

    assert error["target"] == "sessionIds"


def test_an_email_already_registered_for_the_ticket_type_answers_409(api_client, published_event, registration):
    register(published_event, "grace@example.com", name="Grace")

    error = assert_envelope(patch(api_client, registration, email="Grace@example.com"), 409, "ALREADY_REGISTERED")

    assert error["target"] == "email"
    assert Registration.objects.get(pk=registration.pk).email == "ada@example.com"


def test_the_email_of_a_cancelled_registration_can_be_taken(api_client, org, published_event, registration):
    gone = register(published_event, "grace@example.com", name="Grace")
    services.registration_cancel(org=org, actor=None, registration_id=gone.pk)

    response = patch(api_client, registration, email="grace@example.com")

    assert response.status_code == 200
    assert response.json()["email"] == "grace@example.com"


@pytest.mark.parametrize(("body", "target"), [({"name": "  "}, "name"), ({"email": "nope"}, "email"), ({"name": None}, "name")])
def test_an_invalid_update_answers_422_targeting_the_field(api_client, registration, body, target):
    error = assert_envelope(patch(api_client, registration, **body), 422, "VALIDATION_ERROR")

    assert error["target"] == target
    assert Registration.objects.get(pk=registration.pk).name == "Ada Lovelace"


def test_updating_a_cancelled_registration_answers_409(api_client, org, registration):
    services.registration_cancel(org=org, actor=None, registration_id=registration.pk)

    assert_envelope(patch(api_client, registration, name="Ghost"), 409, "REGISTRATION_CANCELLED")
    assert Registration.objects.get(pk=registration.pk).name == "Ada Lovelace"


def test_updating_another_organizations_registration_answers_404(api_client, other_org):
    foreign = Registration.objects.get(organization=other_org)

    assert_envelope(patch(api_client, foreign, name="Hacked"), 404, "RESOURCE_NOT_FOUND")
    assert Registration.objects.get(pk=foreign.pk).name == "Secret Person"


# --- Batch ----------------------------------------------------------------------------------------


def item(ticket_type, email: str, name: str = "Attendee", **extra) -> dict:
    return {"ticketTypeId": ticket_type.pk, "name": name, "email": email, **extra}


def batch(client, items: list[dict], *, atomic: bool = False, headers=None):
    return client.post("/api/v1/registrations/batch", {"items": items, "atomic": atomic}, content_type=JSON, headers=headers)


@pytest.fixture
def small_event(org):
    """Two seats left: one of three is taken."""
    event = make_event(org, publish=True, capacity=3)
    register(event, "taken@example.com", name="Taken")
    return event


def test_batch_makes_each_item_on_its_own_and_reports_each(api_client, org, small_event):
    tt = small_event.ticket_types.get()
    items = [
        item(tt, "one@example.com"),
        item(tt, "TAKEN@example.com"),  # already registered: 200 with the existing one
        item(tt, "bad-address"),
        item(tt, "two@example.com"),
        item(tt, "three@example.com"),  # no seat left
    ]

    response = batch(api_client, items)

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 200, 422, 201, 409]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert body["summary"] == {"created": 2, "existing": 1, "failed": 2}
    one = Registration.objects.get(email="one@example.com")
    assert body["results"][0]["data"] == snapshots.registration_data(one)
    assert body["results"][0]["error"] is None
    assert body["results"][1]["data"]["email"] == "taken@example.com"
    invalid, sold_out = body["results"][2]["error"], body["results"][4]["error"]
    assert (invalid["code"], invalid["target"], invalid["status"]) == ("VALIDATION_ERROR", "email", 422)
    assert (sold_out["code"], sold_out["target"]) == ("SOLD_OUT", "ticketTypeId")
    assert sold_out["correlationId"] == response["X-Correlation-ID"]
    assert body["results"][2]["data"] is None
    assert Registration.objects.filter(event=small_event).count() == 3


def test_batch_item_with_an_unknown_ticket_type_fails_alone_with_404(api_client, other_org, published_event):
    foreign_tt = Registration.objects.get(organization=other_org).ticket_type
    tt = published_event.ticket_types.get()

    body = batch(api_client, [item(foreign_tt, "x@example.com"), item(tt, "y@example.com")]).json()

    assert [r["status"] for r in body["results"]] == [404, 201]
    assert (body["results"][0]["error"]["code"], body["results"][0]["error"]["target"]) == ("RESOURCE_NOT_FOUND", "ticketTypeId")
    assert not Registration.objects.filter(email="x@example.com").exists()


def test_atomic_batch_makes_everything_in_one_go(api_client, org, published_event):
    tt = published_event.ticket_types.get()
    before = outbox_types(org)

    response = batch(api_client, [item(tt, "a@example.com"), item(tt, "b@example.com"), item(tt, "a@example.com")], atomic=True)

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 201, 200]
    assert body["results"][2]["data"]["id"] == body["results"][0]["data"]["id"]
    assert body["summary"] == {"created": 2, "existing": 1, "failed": 0}
    assert outbox_types(org)[len(before) :] == ["registration.created", "registration.confirmed"] * 2


def test_atomic_batch_with_a_failing_item_makes_nothing(api_client, org, small_event, django_capture_on_commit_callbacks):
    tt = small_event.ticket_types.get()
    before = outbox_types(org)
    items = [item(tt, "one@example.com"), item(tt, "  "), item(tt, "two@example.com"), item(tt, "three@example.com")]

    with django_capture_on_commit_callbacks() as callbacks:
        response = batch(api_client, items, atomic=True)

    error = assert_envelope(response, 409, "BATCH_FAILED")
    assert error["details"] == {
        "items": [
            {"index": 1, "code": "VALIDATION_ERROR", "message": "Enter a valid e-mail address.", "target": "email"},
            {"index": 3, "code": "SOLD_OUT", "message": "“General” is sold out.", "target": "ticketTypeId"},
        ]
    }
    assert Registration.objects.filter(event=small_event).count() == 1
    assert outbox_types(org) == before
    assert callbacks == []  # no ticket, no e-mail, no webhook for what was rolled back


def test_a_batch_of_more_than_500_items_answers_422(api_client, published_event):
    tt = published_event.ticket_types.get()

    error = assert_envelope(batch(api_client, [item(tt, f"p{i}@example.com") for i in range(501)]), 422, "VALIDATION_ERROR")

    assert error["target"] == "items"
    assert not Registration.objects.filter(event=published_event).exists()


def test_an_empty_batch_answers_422(api_client):
    error = assert_envelope(batch(api_client, []), 422, "VALIDATION_ERROR")

    assert error["target"] == "items"


def test_a_batch_with_an_idempotency_key_is_made_once(api_client, published_event):
    tt = published_event.ticket_types.get()
    items = [item(tt, "a@example.com"), item(tt, "b@example.com")]
    headers = {"Idempotency-Key": "import-2025-04-22"}

    first = batch(api_client, items, headers=headers)
    replay = batch(api_client, items, headers=headers)

    assert first.json()["summary"] == {"created": 2, "existing": 0, "failed": 0}
    assert replay.json() == first.json()  # the stored answer: still "created", not "existing"
    assert replay["Idempotent-Replayed"] == "true"
    assert Registration.objects.filter(event=published_event).count() == 2


def test_a_batch_needs_the_write_scope(org, published_event):
    _key, secret = api_key_create(org=org, actor=None, name="ro", scopes=[s for s in API_SCOPES if s != "registrations:write"])

    response = batch(ApiClient(secret), [item(published_event.ticket_types.get(), "a@example.com")])

    assert_envelope(response, 403, "INSUFFICIENT_SCOPE")
    assert not Registration.objects.filter(event=published_event).exists()


def test_an_update_needs_the_write_scope(org, registration):
    _key, secret = api_key_create(org=org, actor=None, name="ro", scopes=[s for s in API_SCOPES if s != "registrations:write"])

    assert_envelope(patch(ApiClient(secret), registration, name="X"), 403, "INSUFFICIENT_SCOPE")
    assert Registration.objects.get(pk=registration.pk).name == "Ada Lovelace"


def test_openapi_documents_update_and_batch(api_client):
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]

    update = paths["/api/v1/registrations/{registration_id}"]["patch"]
    create_many = paths["/api/v1/registrations/batch"]["post"]
    for operation in (update, create_many):
        assert operation["summary"]
        assert operation["description"]
        assert {"200", "401", "403", "404", "409", "422", "429"} <= set(operation["responses"])


def test_the_registration_stays_pending_or_confirmed_through_an_update(api_client, org):
    paid = make_event(org, publish=True, price=Decimal("10"))
    reg = register(paid, "p@example.com")

    response = patch(api_client, reg, name="Still pending")

    assert response.json()["status"] == RegistrationStatus.PENDING_PAYMENT
