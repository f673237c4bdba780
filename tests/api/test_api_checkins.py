"""/api/v1/checkins (QR token or code, offline scans, bulk uploads) and /api/v1/events/{id}/checkin-key."""

from __future__ import annotations

import base64
from datetime import UTC, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.utils import timezone

from accounts.models import API_SCOPES
from accounts.services import api_key_create
from events import services, snapshots, tickets
from events.models import CheckIn, Registration
from integrations.models import OutboxEvent
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event

pytestmark = pytest.mark.django_db

JSON = "application/json"


def register(event, name="Ada Lovelace", email=None, **kwargs) -> Registration:
    return services.registration_create(
        org=event.organization,
        actor=None,
        ticket_type_id=event.ticket_types.first().pk,
        name=name,
        email=email or f"{name.split()[0].lower()}@example.com",
        **kwargs,
    )


def scan(client, body: dict):
    return client.post("/api/v1/checkins", body, content_type=JSON)


@pytest.fixture
def event(published_event):
    return published_event


@pytest.fixture
def reg(event):
    session = services.session_create(
        org=event.organization,
        actor=None,
        event_id=event.pk,
        title="Opening keynote",
        starts_at=event.starts_at,
        ends_at=event.starts_at + timedelta(hours=1),
        room="Hall A",
    )
    return register(event, session_ids=[session.pk])


# --- One scan -------------------------------------------------------------------------------------


def test_scanning_a_qr_token_checks_in_and_shows_the_attendee(api_client, org, event, reg):
    response = scan(api_client, {"qr": tickets.token_sign(reg), "eventId": event.pk, "gate": "North"})

    assert response.status_code == 201
    body = response.json()
    checkin = CheckIn.objects.get(registration=reg)
    assert body == snapshots.checkin_data(checkin)
    assert body["gate"] == "North"
    assert body["attendee"]["name"] == "Ada Lovelace"
    assert body["attendee"]["ticketType"] == {"id": reg.ticket_type_id, "name": "General"}
    assert [(s["title"], s["room"]) for s in body["attendee"]["sessions"]] == [("Opening keynote", "Hall A")]
    assert body["links"] == {"registration": f"/api/v1/registrations/{reg.pk}", "event": f"/api/v1/events/{event.pk}"}
    assert OutboxEvent.objects.filter(organization=org, event_type="checkin.completed").count() == 1


def test_a_qr_token_without_event_id_checks_in_its_own_event(api_client, reg):
    response = scan(api_client, {"qr": tickets.token_sign(reg)})

    assert response.status_code == 201
    assert response.json()["registrationId"] == reg.pk


def test_a_typed_code_checks_in(api_client, event, reg):
    response = scan(api_client, {"code": reg.code.lower(), "eventId": event.pk})

    assert response.status_code == 201
    assert CheckIn.objects.filter(registration=reg).count() == 1


def test_second_scan_answers_409_with_the_first_time_and_gate(api_client, event, reg):
    token = tickets.token_sign(reg)
    first = scan(api_client, {"qr": token, "eventId": event.pk, "gate": "North"}).json()

    response = scan(api_client, {"qr": token, "eventId": event.pk, "gate": "South"})

    error = assert_envelope(response, 409, "ALREADY_CHECKED_IN")
    assert error["details"] == {"checkedInAt": first["checkedInAt"], "gate": "North"}
    assert CheckIn.objects.filter(registration=reg).count() == 1


def test_forged_token_answers_422_invalid_ticket(api_client, event, reg):
    prefix, _payload, signature = tickets.token_sign(reg).split(".")
    other = register(event, "Grace Hopper")
    payload = base64.urlsafe_b64encode(f"{event.pk}.{other.pk}.{other.code}".encode()).rstrip(b"=").decode()

    error = assert_envelope(
        scan(api_client, {"qr": f"{prefix}.{payload}.{signature}", "eventId": event.pk}), 422, "INVALID_TICKET"
    )

    assert error["target"] == "qr"
    assert CheckIn.objects.count() == 0


def test_damaged_token_answers_422_invalid_ticket(api_client, event, reg):
    token = tickets.token_sign(reg)

    assert_envelope(scan(api_client, {"qr": token[:-6], "eventId": event.pk}), 422, "INVALID_TICKET")
    assert_envelope(scan(api_client, {"qr": "hello world"}), 422, "INVALID_TICKET")


def test_cancelled_registration_answers_409(api_client, event, reg):
    services.registration_cancel(org=event.organization, actor=None, registration_id=reg.pk)

    assert_envelope(scan(api_client, {"qr": tickets.token_sign(reg), "eventId": event.pk}), 409, "REGISTRATION_CANCELLED")
    assert CheckIn.objects.count() == 0


@pytest.mark.parametrize("by", ["qr", "code"])
def test_another_events_ticket_answers_409_wrong_event(api_client, org, event, by):
    other_event = make_event(org, publish=True, title="Spring Summit")
    other = register(other_event)
    body = {"qr": tickets.token_sign(other)} if by == "qr" else {"code": other.code}

    error = assert_envelope(scan(api_client, {**body, "eventId": event.pk}), 409, "WRONG_EVENT")

    assert error["details"]["eventId"] == other_event.pk
    assert CheckIn.objects.count() == 0


def test_same_nonce_again_answers_the_same_checkin(api_client, event, reg):
    body = {"qr": tickets.token_sign(reg), "eventId": event.pk, "nonce": "scanner-7:0001"}
    first = scan(api_client, body)

    again = scan(api_client, body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert CheckIn.objects.filter(registration=reg).count() == 1


def test_offline_scan_keeps_its_scan_time(api_client, event, reg):
    scanned = (timezone.now() - timedelta(minutes=20)).replace(microsecond=0)

    response = scan(api_client, {"code": reg.code, "scannedAt": scanned.isoformat(), "nonce": "n-1"})

    checkin = CheckIn.objects.get(registration=reg)
    assert response.status_code == 201
    assert checkin.checked_in_at == scanned
    assert checkin.recorded_at > scanned
    assert response.json()["nonce"] == "n-1"


def test_scan_time_in_the_future_is_refused(api_client, reg):
    future = timezone.now().astimezone(UTC) + timedelta(hours=1)

    error = assert_envelope(scan(api_client, {"code": reg.code, "scannedAt": future.isoformat()}), 422, "VALIDATION_ERROR")

    assert error["target"] == "scannedAt"
    assert CheckIn.objects.count() == 0


def test_neither_qr_nor_code_answers_422(api_client):
    assert_envelope(scan(api_client, {"gate": "North"}), 422, "VALIDATION_ERROR")


def test_the_registration_checkin_endpoint_answers_like_a_scan(api_client, reg):
    response = api_client.post(f"/api/v1/registrations/{reg.pk}/checkin", {"gate": "East"}, content_type=JSON)

    assert response.status_code == 201
    assert response.json()["attendee"]["name"] == "Ada Lovelace"


# --- Bulk -----------------------------------------------------------------------------------------


def test_bulk_upload_answers_per_item_and_is_idempotent_by_nonce(api_client, event, reg):
    grace = register(event, "Grace Hopper")
    cancelled = register(event, "Alan Turing")
    services.registration_cancel(org=event.organization, actor=None, registration_id=cancelled.pk)
    body = {
        "eventId": event.pk,
        "gate": "North",
        "items": [
            {"qr": tickets.token_sign(reg), "nonce": "s1"},
            {"code": grace.code, "nonce": "s2", "gate": "South"},
            {"qr": tickets.token_sign(cancelled), "nonce": "s3"},
            {"qr": "CNV1.broken.token", "nonce": "s4"},
        ],
    }

    first = api_client.post("/api/v1/checkins/bulk", body, content_type=JSON)
    again = api_client.post("/api/v1/checkins/bulk", body, content_type=JSON)

    assert first.status_code == 200
    results = first.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 409, 422]
    assert [r["error"]["code"] for r in results[2:]] == ["REGISTRATION_CANCELLED", "INVALID_TICKET"]
    assert (results[0]["data"]["gate"], results[1]["data"]["gate"]) == ("North", "South")
    assert first.json()["summary"] == {"checkedIn": 2, "failed": 2}
    assert [r["data"] for r in again.json()["results"][:2]] == [r["data"] for r in results[:2]]
    assert CheckIn.objects.count() == 2


def test_bulk_upload_takes_at_most_500_items(api_client, reg):
    body = {"items": [{"code": reg.code, "nonce": f"n{i}"} for i in range(501)]}

    assert_envelope(api_client.post("/api/v1/checkins/bulk", body, content_type=JSON), 422, "VALIDATION_ERROR")
    assert CheckIn.objects.count() == 0


# --- Check-in key ---------------------------------------------------------------------------------


def test_checkin_key_verifies_the_events_tokens(api_client, event, reg):
    token = tickets.token_sign(reg)

    body = api_client.get(f"/api/v1/events/{event.pk}/checkin-key").json()

    assert (body["eventId"], body["algorithm"]) == (event.pk, "Ed25519")
    raw = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(body["publicKey"] + "="))
    pem = load_pem_public_key(body["publicKeyPem"].encode())
    prefix, payload, signature = token.split(".")
    signature_bytes = base64.urlsafe_b64decode(signature + "==")
    raw.verify(signature_bytes, f"{prefix}.{payload}".encode())  # raises when it does not verify
    pem.verify(signature_bytes, f"{prefix}.{payload}".encode())
    assert "CNV1" in body["tokenFormat"]
    assert body["links"]["self"] == f"/api/v1/events/{event.pk}/checkin-key"


@pytest.mark.parametrize(("scopes", "status"), [(["events:read"], 200), (["checkins:write"], 200), (["registrations:read"], 403)])
def test_checkin_key_needs_checkins_write_or_events_read(org, event, scopes, status):
    _key, secret = api_key_create(org=org, actor=None, name="scanner", scopes=scopes)

    assert ApiClient(secret).get(f"/api/v1/events/{event.pk}/checkin-key").status_code == status


# --- Scopes and tenancy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("post", "/api/v1/checkins"), ("post", "/api/v1/checkins/bulk"), ("post", "/api/v1/registrations/{reg}/checkin")],
)
def test_a_key_without_checkins_write_gets_403(org, reg, method, url):
    _key, secret = api_key_create(org=org, actor=None, name="almost", scopes=[s for s in API_SCOPES if s != "checkins:write"])
    body = {"code": reg.code, "items": [{"code": reg.code}]}

    error = assert_envelope(ApiClient(secret).post(url.format(reg=reg.pk), body, content_type=JSON), 403, "INSUFFICIENT_SCOPE")

    assert error["details"] == {"requiredScope": "checkins:write"}
    assert CheckIn.objects.count() == 0


def test_another_organizations_ticket_looks_forged_and_checks_nobody_in(api_client, other_org):
    foreign = Registration.objects.get(organization=other_org)

    assert_envelope(scan(api_client, {"qr": tickets.token_sign(foreign)}), 422, "INVALID_TICKET")
    assert_envelope(scan(api_client, {"code": foreign.code}), 404, "RESOURCE_NOT_FOUND")
    assert CheckIn.objects.count() == 0


def test_another_organizations_event_and_key_answer_404(api_client, other_org, reg):
    foreign = Registration.objects.get(organization=other_org)

    assert_envelope(api_client.get(f"/api/v1/events/{foreign.event_id}/checkin-key"), 404, "RESOURCE_NOT_FOUND")
    assert_envelope(scan(api_client, {"code": reg.code, "eventId": foreign.event_id}), 404, "RESOURCE_NOT_FOUND")
    assert CheckIn.objects.count() == 0


def test_ticket_download_over_the_api(api_client, org, reg, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)

    response = api_client.get(f"/api/v1/registrations/{reg.pk}/ticket")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="ticket-{reg.event.slug}-{reg.code}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_ticket_download_of_a_cancelled_registration_answers_410(api_client, org, reg):
    services.registration_cancel(org=org, actor=None, registration_id=reg.pk)

    assert_envelope(api_client.get(f"/api/v1/registrations/{reg.pk}/ticket"), 410, "TICKET_NOT_AVAILABLE")


def test_ticket_download_needs_registrations_read_and_hides_other_tenants(org, other_org, reg, api_client):
    _key, secret = api_key_create(org=org, actor=None, name="door", scopes=["checkins:write"])
    foreign = Registration.objects.get(organization=other_org)

    assert_envelope(ApiClient(secret).get(f"/api/v1/registrations/{reg.pk}/ticket"), 403, "INSUFFICIENT_SCOPE")
    assert_envelope(api_client.get(f"/api/v1/registrations/{foreign.pk}/ticket"), 404, "RESOURCE_NOT_FOUND")
