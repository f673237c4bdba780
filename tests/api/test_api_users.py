"""/api/v1/users: the organization's members, role changes, and /users/me (the calling credential)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import API_SCOPES, AuditEntry, Membership, Role
from accounts.services import api_key_create
from tests.api.conftest import ApiClient
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def team(org):
    """An owner, an organizer and a viewer, joined in that order."""
    return {
        "owner": make_member(org, Role.OWNER, email="olive@example.com"),
        "organizer": make_member(org, Role.ORGANIZER, email="oscar@example.com"),
        "viewer": make_member(org, Role.VIEWER, email="vera@example.com"),
    }


def emails(response) -> list[str]:
    assert response.status_code == 200
    return [item["email"] for item in response.json()["data"]]


def role_of(org, user) -> str:
    return Membership.objects.get(organization=org, user=user).role


def key_client(org, *, scopes=API_SCOPES, created_by=None, test=False) -> ApiClient:
    _key, secret = api_key_create(org=org, actor=created_by, name="Team sync", scopes=list(scopes), test=test)
    return ApiClient(secret)


# --- List and detail ------------------------------------------------------------------------------


def test_list_members_in_joining_order(api_client, team):
    response = api_client.get("/api/v1/users")

    assert emails(response) == ["olive@example.com", "oscar@example.com", "vera@example.com"]
    assert response.json()["pagination"]["total"] == 3


def test_a_member_is_the_user_with_their_role(api_client, org, team):
    oscar = team["organizer"]
    oscar.name = "Oscar Wilde"
    oscar.save(update_fields=["name"])

    response = api_client.get(f"/api/v1/users/{oscar.pk}")

    assert response.status_code == 200
    membership = Membership.objects.get(organization=org, user=oscar)
    body = response.json()
    assert body["joinedAt"].startswith(membership.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    del body["joinedAt"]
    assert body == {
        "id": oscar.pk,
        "email": "oscar@example.com",
        "name": "Oscar Wilde",
        "role": "organizer",
        "links": {"self": f"/api/v1/users/{oscar.pk}"},
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("role=viewer", ["vera@example.com"]),
        ("q=OSCAR", ["oscar@example.com"]),
        ("sort=-email", ["vera@example.com", "oscar@example.com", "olive@example.com"]),
    ],
)
def test_list_members_filters_and_sorts(api_client, team, query, expected):
    assert emails(api_client.get(f"/api/v1/users?{query}")) == expected


def test_list_members_pages_with_a_link_header(api_client, team):
    first = api_client.get("/api/v1/users?pageSize=2")
    second = api_client.get("/api/v1/users?pageSize=2&page=2")

    assert emails(first) == ["olive@example.com", "oscar@example.com"]
    assert 'rel="next"' in first["Link"]
    assert emails(second) == ["vera@example.com"]


def test_list_members_rejects_an_unknown_role(api_client):
    error = assert_envelope(api_client.get("/api/v1/users?role=king"), 422, "VALIDATION_ERROR")

    assert error["target"] == "role"


def test_member_list_query_count_does_not_grow_with_items(api_client, org):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get("/api/v1/users").status_code == 200
        return len(ctx.captured_queries)

    make_member(org, Role.OWNER)
    api_client.get("/api/v1/users")  # warm-up: the key's last use is written once
    one = count()
    make_member(org, Role.VIEWER)
    make_member(org, Role.ADMIN)

    assert count() == one


def test_members_of_other_organizations_and_non_members_answer_404(api_client, team, other_org):
    outsider = make_user("nobody@example.com")
    foreign = Membership.objects.filter(organization=other_org).first().user

    assert_envelope(api_client.get(f"/api/v1/users/{outsider.pk}"), 404, "RESOURCE_NOT_FOUND")
    assert_envelope(api_client.get(f"/api/v1/users/{foreign.pk}"), 404, "RESOURCE_NOT_FOUND")
    assert "nobody@example.com" not in emails(api_client.get("/api/v1/users"))
    assert foreign.email not in emails(api_client.get("/api/v1/users"))


# --- Role changes ---------------------------------------------------------------------------------


def patch_role(client, user, role: str):
    return client.patch(f"/api/v1/users/{user.pk}", {"role": role}, content_type=JSON)


def test_change_a_members_role(api_client, org, team):
    response = patch_role(api_client, team["viewer"], "organizer")

    assert response.status_code == 200
    assert response.json()["role"] == "organizer"
    assert role_of(org, team["viewer"]) == Role.ORGANIZER
    entry = AuditEntry.objects.get(organization=org, action="accounts.membership.role_changed")
    assert entry.changes == {"role": ["viewer", "organizer"]}


def test_the_last_owner_cannot_step_down(api_client, org, team):
    error = assert_envelope(patch_role(api_client, team["owner"], "admin"), 409, "LAST_OWNER")

    assert error["target"] == "role"
    assert role_of(org, team["owner"]) == Role.OWNER


def test_a_key_made_by_an_admin_keeps_the_owner_rules(org, team):
    admin = make_member(org, Role.ADMIN)
    client = key_client(org, created_by=admin)

    promote = patch_role(client, team["viewer"], "owner")
    demote = patch_role(client, team["owner"], "viewer")
    allowed = patch_role(client, team["viewer"], "organizer")

    assert_envelope(promote, 403, "OWNER_ONLY")
    assert_envelope(demote, 403, "OWNER_ONLY")
    assert allowed.status_code == 200
    assert (role_of(org, team["owner"]), role_of(org, team["viewer"])) == (Role.OWNER, Role.ORGANIZER)


def test_a_key_made_by_an_owner_may_make_owners(org, team):
    client = key_client(org, created_by=team["owner"])

    response = patch_role(client, team["organizer"], "owner")

    assert response.status_code == 200
    assert role_of(org, team["organizer"]) == Role.OWNER


def test_an_unknown_role_answers_422(api_client, org, team):
    error = assert_envelope(patch_role(api_client, team["viewer"], "king"), 422, "VALIDATION_ERROR")

    assert error["target"] == "role"
    assert role_of(org, team["viewer"]) == Role.VIEWER


def test_changing_another_organizations_member_answers_404(api_client, other_org):
    foreign = Membership.objects.filter(organization=other_org).first()

    assert_envelope(patch_role(api_client, foreign.user, "viewer"), 404, "RESOURCE_NOT_FOUND")
    assert Membership.objects.get(pk=foreign.pk).role == Role.OWNER


# --- /users/me ------------------------------------------------------------------------------------


def test_me_describes_the_calling_key(org, team):
    org.is_sandbox = True  # test keys belong to sandboxes
    org.save(update_fields=["is_sandbox"])
    client = key_client(org, scopes=["users:read", "events:read"], created_by=team["organizer"], test=True)

    response = client.get("/api/v1/users/me")

    assert response.status_code == 200
    body = response.json()
    assert body["organization"] == {"id": org.pk, "name": org.name, "slug": org.slug, "sandbox": True}
    assert (body["name"], body["mode"], body["tier"]) == ("Team sync", "test", "user")
    assert body["key"].startswith("cnv_test_")
    assert body["scopes"] == ["events:read", "users:read"]
    assert body["createdBy"] == {
        "id": team["organizer"].pk,
        "email": "oscar@example.com",
        "name": "",
        "role": "organizer",
        "links": {"self": f"/api/v1/users/{team['organizer'].pk}"},
    }


def test_me_of_a_key_made_without_a_user_is_live_and_has_no_creator(api_client):
    body = api_client.get("/api/v1/users/me").json()

    assert (body["mode"], body["createdBy"]) == ("live", None)


def test_me_needs_no_scope(org):
    client = key_client(org, scopes=["events:read"])

    assert client.get("/api/v1/users/me").status_code == 200


def test_me_needs_a_key(anon_client):
    assert_envelope(anon_client.get("/api/v1/users/me"), 401, "UNAUTHENTICATED")


# --- Scopes ---------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/users", "users:read"),
    ("get", "/api/v1/users/{user}", "users:read"),
    ("patch", "/api/v1/users/{user}", "users:write"),
]


@pytest.mark.parametrize(("method", "url", "scope"), ENDPOINTS)
def test_a_key_without_the_scope_gets_403(org, team, method, url, scope):
    client = key_client(org, scopes=[s for s in API_SCOPES if s != scope])
    url = url.format(user=team["viewer"].pk)

    response = client.get(url) if method == "get" else client.patch(url, {"role": "admin"}, content_type=JSON)

    error = assert_envelope(response, 403, "INSUFFICIENT_SCOPE")
    assert error["details"] == {"requiredScope": scope}
    assert role_of(org, team["viewer"]) == Role.VIEWER


def test_openapi_documents_every_user_operation(api_client):
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]

    for method, url, _scope in ENDPOINTS:
        operation = paths[url.replace("{user}", "{user_id}")][method]
        assert operation["summary"]
        assert operation["description"]
        assert {"401", "403", "404", "422", "429"} <= set(operation["responses"])
    assert paths["/api/v1/users/me"]["get"]["summary"]
    assert "409" in paths["/api/v1/users/{user_id}"]["patch"]["responses"]
