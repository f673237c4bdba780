"""The former API keys page: keys now live in apps on the developer pages; old links and forms still lead there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from accounts.services import api_key_create
from tests.api.conftest import ApiClient
from tests.conftest import logged_in_client
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_the_old_page_leads_to_apps_and_keys(org):
    client = logged_in_client(make_member(org, Role.DEVELOPER))

    response = client.get(reverse("accounts:api-key-list", args=[org.slug]), follow=True)

    assert response.redirect_chain == [(reverse("dev-apps", args=[org.slug]), 302)]
    assert response.status_code == 200


def test_the_old_revoke_address_still_revokes(org):
    client = logged_in_client(make_member(org, Role.OWNER))
    key, secret = api_key_create(org=org, actor=None, name="old", scopes=["events:read"])

    response = client.post(reverse("accounts:api-key-revoke", args=[org.slug, key.pk]))

    assert response["Location"] == reverse("dev-apps", args=[org.slug])
    assert ApiClient(secret).get("/api/v1/events").status_code == 401


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.VIEWER, Role.CHECKIN])
def test_other_roles_cannot_see_or_make_keys(org, role):
    client = logged_in_client(make_member(org, role))

    assert client.get(reverse("accounts:api-key-list", args=[org.slug])).status_code == 403
    assert client.get(reverse("dev-apps", args=[org.slug])).status_code == 403
    assert client.post(reverse("dev-apps", args=[org.slug]), {"name": "x"}).status_code == 403
