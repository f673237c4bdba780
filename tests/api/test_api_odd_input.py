"""Inputs an API fuzzer sends: each gets a documented answer, never a 500."""

from __future__ import annotations

from tests.factories import make_event


def test_an_id_too_large_for_any_key_is_not_found(api_client):
    response = api_client.get("/api/v1/events/3896643921563825194758693715968/sessions/5978289/speakers")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_patching_a_venue_without_an_address_keeps_the_name(org, api_client):
    event = make_event(org)

    response = api_client.patch(f"/api/v1/events/{event.pk}", {"venue": {"name": "Hall 7"}}, content_type="application/json")

    assert response.status_code == 200, response.content
    assert response.json()["venue"]["name"] == "Hall 7"


def test_null_for_a_required_field_in_a_patch_names_it(org, api_client):
    event = make_event(org)

    response = api_client.patch(f"/api/v1/events/{event.pk}", {"title": None}, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["error"]["target"] == "title"


def test_a_number_as_a_date_in_the_query_is_refused(api_client):
    response = api_client.get("/api/v1/events?startsBefore=0.5")

    assert response.status_code == 422


def test_a_string_or_boolean_where_an_id_is_documented_is_refused(org, api_client):
    response = api_client.post(
        "/api/v1/checkins/bulk", {"items": [{"code": "ABCDEFGH", "eventId": False}]}, content_type="application/json"
    )
    assert response.status_code == 422

    item = {"ticketTypeId": "5", "name": "Ada", "email": "ada@example.com"}
    assert api_client.post("/api/v1/registrations/batch", {"items": [item]}, content_type="application/json").status_code == 422


def test_a_page_far_past_any_end_is_a_clear_400(api_client):
    response = api_client.get("/api/v1/speakers?page=3357630101704758272")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PAGINATION"


def test_a_json_array_is_not_a_body(org, api_client):
    event = make_event(org)

    response = api_client.patch(f"/api/v1/events/{event.pk}", [None, None], content_type="application/json")

    assert response.status_code == 422


def test_null_is_not_a_body(org, api_client):
    event = make_event(org)

    response = api_client.patch(f"/api/v1/events/{event.pk}", "null", content_type="application/json")

    assert response.status_code == 422


def test_an_amount_too_large_to_round_is_a_clear_422(org, api_client):
    from events.models import RegistrationStatus

    reg = make_event(org, publish=True).ticket_types.first()
    registration = api_client.post(
        "/api/v1/registrations",
        {"ticketTypeId": reg.pk, "name": "Ada", "email": "ada@example.com"},
        content_type="application/json",
    ).json()
    assert registration["status"] in (RegistrationStatus.CONFIRMED, RegistrationStatus.PENDING_PAYMENT)

    response = api_client.post(
        "/api/v1/payments", {"registrationId": registration["id"], "amount": 2.1e39}, content_type="application/json"
    )

    assert response.status_code == 422
    assert response.json()["error"]["target"] == "amount"
