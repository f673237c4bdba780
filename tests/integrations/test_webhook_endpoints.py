"""Managing webhook endpoints: checked input, audited changes, one organization's endpoints only."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import AuditEntry, Role
from integrations import errors, selectors, services
from integrations.models import WebhookEndpoint
from portal.errors import NotFound
from tests.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def developer(org):
    return make_member(org, Role.DEVELOPER)


def actions(org) -> list[str]:
    return list(AuditEntry.objects.for_org(org).order_by("id").values_list("action", flat=True))


def test_endpoint_create_keeps_url_types_description_and_audits(org, developer):
    endpoint = services.webhook_endpoint_create(
        org=org,
        actor=developer,
        url=" https://hooks.example.com/convene ",
        event_types=["registration.confirmed", "event.created", "event.created"],
        description="CRM sync",
    )

    assert (endpoint.url, endpoint.event_types, endpoint.description, endpoint.enabled) == (
        "https://hooks.example.com/convene",
        ["event.created", "registration.confirmed"],
        "CRM sync",
        True,
    )
    assert actions(org) == ["integrations.webhook_endpoint.created"]


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "Webhook URLs must use https://."),
        ("ftp://hooks.example.com/x", "Enter a full URL, starting with https://."),
        ("hooks.example.com", "Enter a full URL, starting with https://."),
        ("https://127.0.0.1/x", "Webhook URLs must point to a public address."),
        ("https://10.1.2.3/x", "Webhook URLs must point to a public address."),
        ("https://169.254.169.254/latest", "Webhook URLs must point to a public address."),
        ("https://[::1]/x", "Webhook URLs must point to a public address."),
        ("https://224.0.0.1/x", "Webhook URLs must point to a public address."),
        ("https://localhost/x", "Webhook URLs must point to a public address."),
        ("https://user:pw@hooks.example.com/x", "Webhook URLs cannot contain a user name or password."),
    ],
)
def test_endpoint_create_refuses_unsafe_url_beside_url_field(org, url, message):
    with pytest.raises(errors.InvalidWebhookUrl) as caught:
        services.webhook_endpoint_create(org=org, actor=None, url=url)

    assert (caught.value.field, caught.value.message) == ("url", message)
    assert WebhookEndpoint.objects.count() == 0


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
def test_endpoint_create_accepts_private_http_url_when_instance_allows(org):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="http://127.0.0.1:9999/hook")

    assert endpoint.url == "http://127.0.0.1:9999/hook"


def test_endpoint_create_refuses_unknown_event_type_beside_its_field(org):
    with pytest.raises(errors.InvalidEventTypes) as caught:
        services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/x", event_types=["order.shipped"])

    assert (caught.value.field, caught.value.message) == ("event_types", "Unknown event type: order.shipped.")
    assert WebhookEndpoint.objects.count() == 0


def test_endpoint_update_changes_given_fields_and_audits_the_difference(org, developer):
    endpoint = services.webhook_endpoint_create(org=org, actor=developer, url="https://hooks.example.com/x")

    updated = services.webhook_endpoint_update(
        org=org, actor=developer, endpoint_id=endpoint.pk, url="https://hooks.example.com/y", event_types=["payment.completed"]
    )

    assert (updated.url, updated.event_types) == ("https://hooks.example.com/y", ["payment.completed"])
    entry = AuditEntry.objects.for_org(org).get(action="integrations.webhook_endpoint.updated")
    assert entry.changes == {
        "url": ["https://hooks.example.com/x", "https://hooks.example.com/y"],
        "event_types": [[], ["payment.completed"]],
    }


def test_endpoint_disable_then_enable_is_audited(org, developer):
    endpoint = services.webhook_endpoint_create(org=org, actor=developer, url="https://hooks.example.com/x")

    disabled = services.webhook_endpoint_disable(org=org, actor=developer, endpoint_id=endpoint.pk)
    enabled = services.webhook_endpoint_enable(org=org, actor=developer, endpoint_id=endpoint.pk)

    assert (disabled.enabled, disabled.disabled_reason) == (False, "Disabled by a user.")
    assert (enabled.enabled, enabled.disabled_reason) == (True, "")
    assert actions(org) == [
        "integrations.webhook_endpoint.created",
        "integrations.webhook_endpoint.disabled",
        "integrations.webhook_endpoint.enabled",
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda org, pk: services.webhook_endpoint_update(org=org, actor=None, endpoint_id=pk, url="https://evil.example.com/"),
        lambda org, pk: services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=pk),
        lambda org, pk: services.webhook_endpoint_rotate_secret(org=org, actor=None, endpoint_id=pk),
        lambda org, pk: selectors.webhook_endpoint_get(org=org, endpoint_id=pk),
    ],
)
def test_endpoint_of_other_org_answers_not_found(org, other_org, change):
    theirs = services.webhook_endpoint_create(org=other_org, actor=None, url="https://hooks.example.com/globex")

    with pytest.raises(NotFound):
        change(org, theirs.pk)

    theirs.refresh_from_db()
    assert (theirs.url, theirs.enabled) == ("https://hooks.example.com/globex", True)


def test_endpoint_list_shows_only_this_org(org, other_org):
    mine = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/mine")
    services.webhook_endpoint_create(org=other_org, actor=None, url="https://hooks.example.com/theirs")

    assert list(selectors.webhook_endpoint_list(org=org)) == [mine]
