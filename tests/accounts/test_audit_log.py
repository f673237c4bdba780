"""The audit log page: who did what, filtered by actor, action and dates, one organization only."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Role
from accounts.services import audit_log
from tests.conftest import logged_in_client

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _entry(org, actor, action, when: datetime | None = None, **kwargs) -> AuditEntry:
    entry = audit_log(org=org, actor=actor, action=action, **kwargs)
    if when is not None:
        AuditEntry.objects.filter(pk=entry.pk).update(created_at=when)
    return entry


def _actions(response) -> list[str]:
    return [e.action for e in response.context["page"]]


@pytest.fixture
def owner(member):
    return member(Role.OWNER)


@pytest.fixture
def client(owner):
    return logged_in_client(owner)


def _url(org, **params) -> str:
    return reverse("accounts:audit-log", args=[org.slug]) + (f"?{urlencode(params)}" if params else "")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ORGANIZER, Role.DEVELOPER, Role.CHECKIN])
def test_audit_log_is_forbidden_to_roles_without_audit_view(org, member, role):
    response = logged_in_client(member(role)).get(_url(org))

    assert response.status_code == 403


def test_audit_log_shows_time_actor_action_object_and_changes(org, owner, client):
    _entry(org, owner, "accounts.membership.role_changed", obj=org, changes={"role": ["viewer", "admin"]})

    response = client.get(_url(org))

    html = response.content.decode()
    assert response.status_code == 200
    assert _actions(response) == ["accounts.membership.role_changed"]
    assert "<code>accounts.membership.role_changed</code>" in html
    assert owner.email in html
    assert f"organization #{org.pk}" in html
    assert '<li><span class="muted">role:</span> viewer → admin</li>' in html


def test_audit_log_shows_only_this_organizations_entries(org, owner, client, other_org):
    _entry(org, owner, "accounts.invitation.created")

    response = client.get(_url(org))

    assert _actions(response) == ["accounts.invitation.created"]
    assert "Secret Person" not in response.content.decode()


def test_audit_log_filters_by_actor(org, owner, member, client):
    other = member(Role.ADMIN)
    _entry(org, owner, "mine")
    _entry(org, other, "theirs")
    _entry(org, None, "anonymous")

    by_other = client.get(_url(org, actor=other.pk))
    by_public = client.get(_url(org, actor="public"))

    assert _actions(by_other) == ["theirs"]
    assert _actions(by_public) == ["anonymous"]


def test_audit_log_filters_by_action_from_the_organizations_distinct_actions(org, owner, client):
    _entry(org, owner, "events.event.created")
    _entry(org, owner, "events.event.published")
    _entry(org, owner, "events.event.created")

    response = client.get(_url(org, action="events.event.created"))

    assert _actions(response) == ["events.event.created", "events.event.created"]
    assert [value for value, _label in response.context["form"].fields["action"].choices] == [
        "",
        "events.event.created",
        "events.event.published",
    ]


def test_audit_log_filters_by_inclusive_date_range(org, owner, client):
    day = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=10)
    _entry(org, owner, "before", when=day - timedelta(days=1))
    _entry(org, owner, "first-day", when=day.replace(hour=0, minute=0))
    _entry(org, owner, "last-day", when=day + timedelta(days=2, hours=11, minutes=59))
    _entry(org, owner, "after", when=day + timedelta(days=3))

    response = client.get(_url(org, date_from=day.date().isoformat(), date_to=(day + timedelta(days=2)).date().isoformat()))

    assert _actions(response) == ["last-day", "first-day"]


def test_audit_log_ignores_a_malformed_filter_instead_of_failing(org, owner, client):
    _entry(org, owner, "kept")

    response = client.get(_url(org, actor="999999x", date_from="not-a-date"))

    assert response.status_code == 200
    assert _actions(response) == ["kept"]


def test_audit_log_paginates_newest_first(org, owner, client):
    start = timezone.now() - timedelta(hours=2)
    for i in range(55):
        _entry(org, owner, f"a{i:02d}", when=start + timedelta(minutes=i))

    first = client.get(_url(org))
    second = client.get(_url(org, page=2))

    assert _actions(first)[:2] == ["a54", "a53"]
    assert len(_actions(first)) == 50
    assert _actions(second) == ["a04", "a03", "a02", "a01", "a00"]


def test_audit_log_htmx_filter_answers_only_the_table(org, owner, client):
    _entry(org, owner, "mine")

    response = client.get(_url(org, action="mine"), **HTMX)

    html = response.content.decode().strip()
    assert html.startswith('<div class="card flush" id="audit-table">')
    assert "<html" not in html
    assert "<code>mine</code>" in html


def test_audit_log_query_count_does_not_grow_with_entries(org, owner, member, client):
    _entry(org, owner, "one")
    with CaptureQueriesContext(connection) as few:
        client.get(_url(org))
    _entry(org, member(Role.ADMIN), "two", changes={"x": [1, 2]})
    _entry(org, None, "three", actor_label="someone@example.com")

    with CaptureQueriesContext(connection) as many:
        response = client.get(_url(org))

    assert len(_actions(response)) == 3
    assert len(many) == len(few)
