"""Bodies are read as documented: no number taken for a date-time, no 0 or "no" taken for a boolean."""

from __future__ import annotations

from tests.factories import make_event, make_ticket_type


def test_a_number_for_a_date_time_is_refused_naming_the_field(api_client):
    response = api_client.post(
        "/api/v1/events",
        {"title": "Launch", "startsAt": 0, "endsAt": "2031-01-01T10:00:00Z", "timezone": "UTC", "onlineUrl": "https://x.example"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "startsAt must be an ISO 8601 date and time" in response.json()["error"]["message"]


def test_an_iso_date_time_string_is_still_taken(api_client):
    response = api_client.post(
        "/api/v1/events",
        {
            "title": "Launch",
            "startsAt": "2031-01-01T09:00:00Z",
            "endsAt": "2031-01-01T10:00:00Z",
            "timezone": "UTC",
            "onlineUrl": "https://x.example",
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content


def test_zero_for_a_boolean_is_refused(org, api_client):
    tt = make_ticket_type(make_event(org, publish=True))
    item = {"ticketTypeId": tt.pk, "name": "Ada", "email": "ada@example.com"}

    response = api_client.post("/api/v1/registrations/batch", {"items": [item], "atomic": 0}, content_type="application/json")

    assert response.status_code == 422
    assert "atomic must be true or false" in response.json()["error"]["message"]
    valid = api_client.post("/api/v1/registrations/batch", {"items": [item], "atomic": True}, content_type="application/json")
    assert valid.status_code == 200
