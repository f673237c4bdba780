from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from tests.factories import make_event, make_member, make_org


@pytest.fixture
def org(db):
    return make_org("Acme", slug="acme-test")


@pytest.fixture
def other_org(db):
    """Another tenant that owns data worth leaking: a published event with a registration."""
    other = make_org("Globex", slug="globex-test")
    make_member(other, Role.OWNER)
    event = make_event(other, publish=True, title="Globex secret summit")
    from events import services

    services.registration_create(
        org=other, actor=None, ticket_type_id=event.ticket_types.first().pk, name="Secret Person", email="secret@globex.test"
    )
    return other


@pytest.fixture
def member(org):
    """A factory: member(role) → a user with that role in ``org``."""

    def make(role: str = Role.OWNER):
        return make_member(org, role)

    return make


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def organizer_client(org):
    return logged_in_client(make_member(org, Role.ORGANIZER))


@pytest.fixture
def owner_client(org):
    return logged_in_client(make_member(org, Role.OWNER))


@pytest.fixture
def published_event(org):
    return make_event(org, publish=True, title="Published event", capacity=10)
