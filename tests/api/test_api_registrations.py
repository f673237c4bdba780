"""/api/v1/registrations, /api/v1/checkins and /api/v1/events/{id}/attendees."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import API_SCOPES
from accounts.services import api_key_create
from events import services, snapshots
from events.models import CheckIn, Registration, RegistrationStatus
from integrations.models import OutboxEvent
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db

JSON = "application/json"


def register(event, *, name="Ada Lovelace", email="ada@example.com", ticket_type=None, session_ids=()):
    tt = ticket_type or event.ticket_types.first()
    return services.registration_create(
        org=event.organization, actor=None, ticket_type_id=tt.pk, name=name, email=email, session_ids=session_ids
    )


def outbox_types(org) -> list[str]:
    return list(OutboxEvent.objects.filter(organization=org).order_by("pk").values_list("event_type", flat=True))


@pytest.fixture
def ticket_type(published_event):
    return published_event.ticket_types.get()


@pytest.fixture
def registration(published_event):
    return register(published_event)


# --- Create ---------------------------------------------------------------------------------------


def test_create_registration_answers_201_with_the_registration(api_client, org, ticket_type):
    response = api_client.post(
        "/api/v1/registrations",
        {"ticketTypeId": ticket_type.pk, "name": "Grace Hopper", "email": "Grace@Example.com"},
        content_type=JSON,
    )

    assert response.status_code == 201
    reg = Registration.objects.get(organization=org)
    assert response.json() == snapshots.registration_data(reg)
    assert (reg.name, reg.email, reg.status) == ("Grace Hopper", "grace@example.com", RegistrationStatus.CONFIRMED)


def test_create_registration_publishes_created_and_confirmed_to_the_outbox(api_client, org, ticket_type):
    before = outbox_types(org)

    api_client.post(
        "/api/v1/registrations", {"ticketTypeId": ticket_type.pk, "name": "Grace", "email": "g@example.com"}, content_type=JSON
    )

    assert outbox_types(org)[len(before) :] == ["registration.created", "registration.confirmed"]


def test_create_registration_again_answers_200_with_the_existing_one(api_client, registration, ticket_type):
    response = api_client.post(
        "/api/v1/registrations",
        {"ticketTypeId": ticket_type.pk, "name": "Ada again", "email": "ADA@example.com"},
        content_type=JSON,
    )

    assert response.status_code == 200
    assert response.json()["id"] == registration.pk
    assert Registration.objects.filter(ticket_type=ticket_type).count() == 1


def test_create_registration_with_sessions_returns_their_ids(api_client, published_event, ticket_type):
    start = published_event.starts_at
    sessions = [
        services.session_create(
            org=published_event.organization,
            actor=None,
            event_id=published_event.pk,
            title=f"Talk {i}",
            starts_at=start,
            ends_at=start + (published_event.ends_at - start) / 2,
        )
        for i in range(2)
    ]

    response = api_client.post(
        "/api/v1/registrations",
        {"ticketTypeId": ticket_type.pk, "name": "Ada", "email": "a@example.com", "sessionIds": [s.pk for s in sessions]},
        content_type=JSON,
    )

    assert response.status_code == 201
    assert response.json()["sessionIds"] == sorted(s.pk for s in sessions)


def test_create_registration_when_sold_out_answers_409_targeting_the_ticket_type(api_client, org):
    event = make_event(org, publish=True, capacity=1)
    tt = event.ticket_types.get()
    register(event, email="first@example.com")

    response = api_client.post(
        "/api/v1/registrations", {"ticketTypeId": tt.pk, "name": "Late", "email": "late@example.com"}, content_type=JSON
    )

    error = assert_envelope(response, 409, "SOLD_OUT")
    assert error["target"] == "ticketTypeId"
    assert error["details"] == {"ticketTypeId": tt.pk}


def test_create_registration_with_an_unavailable_session_targets_session_ids(api_client, ticket_type):
    response = api_client.post(
        "/api/v1/registrations",
        {"ticketTypeId": ticket_type.pk, "name": "Ada", "email": "a@example.com", "sessionIds": [999999]},
        content_type=JSON,
    )

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["target"] == "sessionIds"
    assert Registration.objects.filter(ticket_type=ticket_type).count() == 0


def test_create_registration_with_a_blank_name_targets_name(api_client, ticket_type):
    response = api_client.post(
        "/api/v1/registrations", {"ticketTypeId": ticket_type.pk, "name": "  ", "email": "a@example.com"}, content_type=JSON
    )

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["target"] == "name"


def test_create_registration_without_an_email_is_a_validation_error(api_client, ticket_type):
    response = api_client.post("/api/v1/registrations", {"ticketTypeId": ticket_type.pk, "name": "Ada"}, content_type=JSON)

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["target"] == "email"


def test_create_registration_for_another_organizations_ticket_type_answers_404(api_client, other_org):
    foreign = other_org.events.get().ticket_types.get()

    response = api_client.post(
        "/api/v1/registrations", {"ticketTypeId": foreign.pk, "name": "Spy", "email": "spy@example.com"}, content_type=JSON
    )

    error = assert_envelope(response, 404, "RESOURCE_NOT_FOUND")
    assert error["target"] == "ticketTypeId"
    assert Registration.objects.filter(email="spy@example.com").count() == 0


def test_create_registration_for_a_draft_event_answers_409(api_client, org):
    draft = make_event(org)
    tt = make_ticket_type(draft)

    response = api_client.post(
        "/api/v1/registrations", {"ticketTypeId": tt.pk, "name": "Ada", "email": "a@example.com"}, content_type=JSON
    )

    assert_envelope(response, 409, "EVENT_NOT_OPEN")


# --- List and detail ------------------------------------------------------------------------------


@pytest.fixture
def three_registrations(org, published_event):
    """Ada (confirmed, checked in), Bob (cancelled), Cy (pending payment, another event)."""
    ada = register(published_event, name="Ada", email="ada@example.com")
    services.checkin_perform(org=org, actor=None, registration_id=ada.pk)
    bob = register(published_event, name="Bob", email="bob@example.com")
    services.registration_cancel(org=org, actor=None, registration_id=bob.pk)
    other_event = make_event(org, publish=True, price=Decimal("20"))
    cy = register(other_event, name="Cy", email="cy@example.com")
    return {"ada": ada, "bob": bob, "cy": cy}


def names(response) -> list[str]:
    assert response.status_code == 200
    return [item["name"] for item in response.json()["data"]]


def test_list_registrations_newest_first_with_pagination(api_client, three_registrations):
    response = api_client.get("/api/v1/registrations")

    assert names(response) == ["Cy", "Bob", "Ada"]
    assert response.json()["pagination"] == {
        "total": 3,
        "page": 1,
        "pageSize": 20,
        "totalPages": 1,
        "limit": None,
        "offset": None,
        "nextCursor": None,
    }
    assert response["X-Total-Count"] == "3"


def test_list_registrations_items_are_the_registration_resource(api_client, three_registrations):
    response = api_client.get("/api/v1/registrations?q=Ada")

    ada = Registration.objects.get(pk=three_registrations["ada"].pk)
    assert response.json()["data"] == [snapshots.registration_data(ada)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=cancelled", ["Bob"]),
        ("status=pending_payment", ["Cy"]),
        ("checkedIn=true", ["Ada"]),
        ("checkedIn=false", ["Cy", "Bob"]),
        ("q=bob@example", ["Bob"]),
        ("sort=name", ["Ada", "Bob", "Cy"]),
        ("sort=-name", ["Cy", "Bob", "Ada"]),
        ("sort=createdAt", ["Ada", "Bob", "Cy"]),
    ],
)
def test_list_registrations_filters_and_sorts(api_client, three_registrations, query, expected):
    assert names(api_client.get(f"/api/v1/registrations?{query}")) == expected


def test_list_registrations_filters_by_event_and_ticket_type(api_client, three_registrations, published_event):
    cy = three_registrations["cy"]

    by_event = api_client.get(f"/api/v1/registrations?eventId={published_event.pk}&sort=name")
    by_ticket_type = api_client.get(f"/api/v1/registrations?ticketTypeId={cy.ticket_type_id}")

    assert names(by_event) == ["Ada", "Bob"]
    assert names(by_ticket_type) == ["Cy"]


def test_list_registrations_pages_with_a_link_header(api_client, three_registrations):
    response = api_client.get("/api/v1/registrations?pageSize=2&sort=name")

    assert names(response) == ["Ada", "Bob"]
    assert 'rel="next"' in response["Link"]
    assert "page=2" in response["Link"]


def test_list_registrations_rejects_an_unknown_sort(api_client):
    error = assert_envelope(api_client.get("/api/v1/registrations?sort=secret"), 400, "INVALID_SORT")

    assert error["target"] == "sort"


def test_list_registrations_rejects_an_unknown_status(api_client):
    error = assert_envelope(api_client.get("/api/v1/registrations?status=lost"), 422, "VALIDATION_ERROR")

    assert error["target"] == "status"


def test_list_registrations_never_shows_another_organizations(api_client, other_org, registration):
    assert names(api_client.get("/api/v1/registrations")) == ["Ada Lovelace"]


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/api/v1/registrations", "/api/v1/events/{event}/attendees"])
def test_registration_lists_query_count_does_not_grow_with_items(api_client, org, published_event, url):
    start = published_event.starts_at
    session = services.session_create(
        org=org, actor=None, event_id=published_event.pk, title="Talk", starts_at=start, ends_at=published_event.ends_at
    )
    url = url.format(event=published_event.pk)
    register(published_event, email="one@example.com", session_ids=[session.pk])
    api_client.get(url)  # warm-up: the key's last use is written once
    one = _count_queries(api_client, url)
    register(published_event, email="two@example.com", session_ids=[session.pk])
    register(published_event, email="three@example.com", session_ids=[session.pk])

    three = _count_queries(api_client, url)

    assert len(api_client.get(url).json()["data"]) == 3
    assert three == one


def test_get_registration(api_client, registration):
    response = api_client.get(f"/api/v1/registrations/{registration.pk}")

    assert response.status_code == 200
    assert response.json() == snapshots.registration_data(Registration.objects.get(pk=registration.pk))


def test_get_a_missing_registration_answers_404(api_client):
    assert_envelope(api_client.get("/api/v1/registrations/999999"), 404, "RESOURCE_NOT_FOUND")


# --- Confirm and cancel ---------------------------------------------------------------------------


@pytest.fixture
def pending(org):
    event = make_event(org, publish=True, price=Decimal("15"))
    return register(event, name="Payer", email="payer@example.com")


def test_confirm_a_pending_registration(api_client, org, pending):
    assert pending.status == RegistrationStatus.PENDING_PAYMENT

    response = api_client.post(f"/api/v1/registrations/{pending.pk}/confirm", content_type=JSON)

    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    assert response.json()["confirmedAt"] is not None
    assert outbox_types(org)[-1] == "registration.confirmed"


def test_confirm_a_cancelled_registration_answers_409(api_client, org, registration):
    services.registration_cancel(org=org, actor=None, registration_id=registration.pk)

    assert_envelope(
        api_client.post(f"/api/v1/registrations/{registration.pk}/confirm", content_type=JSON), 409, "REGISTRATION_CANCELLED"
    )


def test_cancel_a_registration_with_a_reason(api_client, org, registration):
    response = api_client.post(f"/api/v1/registrations/{registration.pk}/cancel", {"reason": "Cannot come"}, content_type=JSON)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.CANCELLED
    assert outbox_types(org)[-1] == "registration.cancelled"


def test_cancel_a_registration_without_a_body(api_client, registration):
    response = api_client.post(f"/api/v1/registrations/{registration.pk}/cancel", content_type=JSON)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_cancel_twice_publishes_once(api_client, org, registration):
    api_client.post(f"/api/v1/registrations/{registration.pk}/cancel", content_type=JSON)

    response = api_client.post(f"/api/v1/registrations/{registration.pk}/cancel", content_type=JSON)

    assert response.status_code == 200
    assert outbox_types(org).count("registration.cancelled") == 1


# --- Check-in -------------------------------------------------------------------------------------


def test_checkin_a_registration_answers_201_with_the_checkin(api_client, org, registration):
    response = api_client.post(f"/api/v1/registrations/{registration.pk}/checkin", {"gate": "North"}, content_type=JSON)

    assert response.status_code == 201
    checkin = CheckIn.objects.get(registration=registration)
    assert response.json() == snapshots.checkin_data(checkin)
    assert response.json()["gate"] == "North"
    assert outbox_types(org)[-1] == "checkin.completed"


def test_checkin_twice_answers_409_with_the_first_time_and_gate(api_client, org, registration):
    api_client.post(f"/api/v1/registrations/{registration.pk}/checkin", {"gate": "North"}, content_type=JSON)
    first = CheckIn.objects.get(registration=registration)

    response = api_client.post(f"/api/v1/registrations/{registration.pk}/checkin", {"gate": "South"}, content_type=JSON)

    error = assert_envelope(response, 409, "ALREADY_CHECKED_IN")
    assert error["details"] == {"checkedInAt": snapshots.checkin_data(first)["checkedInAt"], "gate": "North"}
    assert CheckIn.objects.filter(registration=registration).count() == 1
    assert outbox_types(org).count("checkin.completed") == 1


def test_checkin_a_cancelled_registration_answers_409(api_client, org, registration):
    services.registration_cancel(org=org, actor=None, registration_id=registration.pk)

    response = api_client.post(f"/api/v1/registrations/{registration.pk}/checkin", content_type=JSON)

    assert_envelope(response, 409, "REGISTRATION_CANCELLED")
    assert CheckIn.objects.filter(registration=registration).count() == 0


def test_checkin_an_unpaid_registration_answers_409(api_client, pending):
    assert_envelope(
        api_client.post(f"/api/v1/registrations/{pending.pk}/checkin", content_type=JSON), 409, "REGISTRATION_NOT_CONFIRMED"
    )


def test_checkin_by_code(api_client, org, registration):
    response = api_client.post("/api/v1/checkins", {"code": registration.code.lower(), "gate": "East"}, content_type=JSON)

    assert response.status_code == 201
    assert response.json()["registrationId"] == registration.pk
    assert response.json()["code"] == registration.code
    assert response.json()["gate"] == "East"
    assert outbox_types(org)[-1] == "checkin.completed"


def test_checkin_by_code_twice_answers_409(api_client, registration):
    api_client.post("/api/v1/checkins", {"code": registration.code}, content_type=JSON)

    response = api_client.post("/api/v1/checkins", {"code": registration.code}, content_type=JSON)

    error = assert_envelope(response, 409, "ALREADY_CHECKED_IN")
    assert error["details"]["gate"] == ""


def test_checkin_by_an_unknown_code_answers_404(api_client):
    error = assert_envelope(
        api_client.post("/api/v1/checkins", {"code": "NOPE1234"}, content_type=JSON), 404, "RESOURCE_NOT_FOUND"
    )

    assert error["target"] == "code"


def test_checkin_by_another_organizations_code_answers_404(api_client, other_org):
    foreign = Registration.objects.get(organization=other_org)

    response = api_client.post("/api/v1/checkins", {"code": foreign.code}, content_type=JSON)

    assert_envelope(response, 404, "RESOURCE_NOT_FOUND")
    assert CheckIn.objects.filter(registration=foreign).count() == 0


# --- Attendees ------------------------------------------------------------------------------------


def test_attendees_are_the_events_confirmed_registrations_by_name(api_client, three_registrations, published_event):
    register(published_event, name="Aaron", email="aaron@example.com")

    response = api_client.get(f"/api/v1/events/{published_event.pk}/attendees")

    assert names(response) == ["Aaron", "Ada"]
    assert response.json()["pagination"]["total"] == 2


# --- Scopes and tenancy ---------------------------------------------------------------------------

ENDPOINTS = [
    ("post", "/api/v1/registrations", "registrations:write"),
    ("get", "/api/v1/registrations", "registrations:read"),
    ("get", "/api/v1/registrations/{reg}", "registrations:read"),
    ("post", "/api/v1/registrations/{reg}/confirm", "registrations:write"),
    ("post", "/api/v1/registrations/{reg}/cancel", "registrations:write"),
    ("post", "/api/v1/registrations/{reg}/checkin", "checkins:write"),
    ("post", "/api/v1/checkins", "checkins:write"),
    ("get", "/api/v1/events/{event}/attendees", "registrations:read"),
]


def _call(client, method: str, url: str, body: dict | None = None):
    if method == "get":
        return client.get(url)
    return client.post(url, body or {}, content_type=JSON)


@pytest.mark.parametrize(("method", "url", "scope"), ENDPOINTS)
def test_a_key_without_the_scope_gets_403(org, registration, method, url, scope):
    _key, secret = api_key_create(org=org, actor=None, name="almost", scopes=[s for s in API_SCOPES if s != scope])
    url = url.format(reg=registration.pk, event=registration.event_id)
    body = {"ticketTypeId": registration.ticket_type_id, "name": "X", "email": "x@example.com", "code": registration.code}

    error = assert_envelope(_call(ApiClient(secret), method, url, body), 403, "INSUFFICIENT_SCOPE")

    assert error["details"] == {"requiredScope": scope}
    assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.CONFIRMED
    assert CheckIn.objects.count() == 0


@pytest.mark.parametrize(("method", "url", "scope"), [e for e in ENDPOINTS if "{" in e[1]])
def test_another_organizations_ids_answer_404(api_client, other_org, method, url, scope):
    foreign = Registration.objects.get(organization=other_org)
    url = url.format(reg=foreign.pk, event=foreign.event_id)

    assert_envelope(_call(api_client, method, url), 404, "RESOURCE_NOT_FOUND")
    assert Registration.objects.get(pk=foreign.pk).status == RegistrationStatus.CONFIRMED
    assert CheckIn.objects.filter(registration=foreign).count() == 0


def test_anonymous_callers_get_401(anon_client, registration):
    assert_envelope(anon_client.get("/api/v1/registrations"), 401, "UNAUTHENTICATED")


def test_openapi_documents_every_registration_operation(api_client):
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]
    operations = {
        (method, url): paths[url.replace("{reg}", "{registration_id}").replace("{event}", "{event_id}")][method]
        for method, url, _scope in ENDPOINTS
    }

    for operation in operations.values():
        assert operation["summary"]
        assert operation["description"]
        assert {"401", "403", "404", "422", "429"} <= set(operation["responses"])
    assert {"200", "201", "409"} <= set(operations[("post", "/api/v1/registrations")]["responses"])
    assert "201" in operations[("post", "/api/v1/checkins")]["responses"]
