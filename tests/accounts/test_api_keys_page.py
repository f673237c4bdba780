"""The API keys page: a key is shown once, works against the API, and stops working when revoked."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import ApiKey, AuditEntry, Role
from tests.api.conftest import ApiClient
from tests.conftest import logged_in_client
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_a_developer_creates_a_key_that_is_shown_once_and_works(org):
    client = logged_in_client(make_member(org, Role.DEVELOPER))
    url = reverse("accounts:api-key-list", args=[org.slug])

    response = client.post(url, {"name": "CRM sync", "scopes": ["events:read", "registrations:read"]})

    secret = re.search(r'value="(cnv_live_[^"]+)"', response.content.decode()).group(1)
    key = ApiKey.objects.for_org(org).get()
    assert (key.name, key.scopes, key.is_test) == ("CRM sync", ["events:read", "registrations:read"], False)
    assert secret not in client.get(url).content.decode()
    assert ApiClient(secret).get("/api/v1/events").status_code == 200
    assert AuditEntry.objects.for_org(org).filter(action="accounts.api_key.created").count() == 1


def test_creating_a_key_without_scopes_explains_beside_the_field(org):
    client = logged_in_client(make_member(org, Role.ADMIN))

    response = client.post(reverse("accounts:api-key-list", args=[org.slug]), {"name": "x"})

    assert response.context["form"].errors["scopes"] == ["Choose at least one scope."]
    assert ApiKey.objects.count() == 0


def test_revoking_a_key_stops_it_at_once(org):
    client = logged_in_client(make_member(org, Role.OWNER))
    response = client.post(
        reverse("accounts:api-key-list", args=[org.slug]), {"name": "old", "scopes": ["events:read"], "test": "on"}
    )
    secret = re.search(r'value="(cnv_test_[^"]+)"', response.content.decode()).group(1)
    key = ApiKey.objects.get()

    client.post(reverse("accounts:api-key-revoke", args=[org.slug, key.pk]))

    assert ApiClient(secret).get("/api/v1/events").status_code == 401
    assert "revoked" in client.get(reverse("accounts:api-key-list", args=[org.slug])).content.decode()


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.VIEWER, Role.CHECKIN])
def test_other_roles_cannot_see_or_make_keys(org, role):
    client = logged_in_client(make_member(org, role))

    assert client.get(reverse("accounts:api-key-list", args=[org.slug])).status_code == 403
    assert (
        client.post(reverse("accounts:api-key-list", args=[org.slug]), {"name": "x", "scopes": ["events:read"]}).status_code
        == 403
    )
    assert ApiKey.objects.count() == 0
