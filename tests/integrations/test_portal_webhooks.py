"""The webhook pages of the portal, and the e-mail owners and admins get when an endpoint is switched off on its own."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from integrations import services, webhooks
from integrations.models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def client_for(org, role: str) -> Client:
    client = Client()
    client.force_login(make_member(org, role))
    return client


def field_block(html: str, name: str) -> str:
    """The markup of one form field (label, input, help, errors), up to the next field."""
    return html.split(f'id="field-{name}"', 1)[1].split('id="field-', 1)[0]


def make_endpoint(org, url: str = "https://hooks.example.com/convene", **fields) -> WebhookEndpoint:
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url=url, event_types=fields.pop("event_types", None))
    if fields:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        endpoint.refresh_from_db()
    return endpoint


def make_delivery(endpoint, event_type: str = "registration.confirmed", status: str = DeliveryStatus.SUCCEEDED, **fields):
    event = OutboxEvent.objects.create(
        organization=endpoint.organization, event_type=event_type, payload={"id": 7, "name": "Pat"}, dispatched_at=timezone.now()
    )
    return WebhookDelivery.objects.create(
        organization=endpoint.organization, endpoint=endpoint, outbox_event=event, status=status, **fields
    )


def pages(org, endpoint, delivery) -> dict[str, str]:
    slug = org.slug
    return {
        "endpoints": reverse("integrations:endpoint-list", args=[slug]),
        "new": reverse("integrations:endpoint-create", args=[slug]),
        "detail": reverse("integrations:endpoint-detail", args=[slug, endpoint.pk]),
        "edit": reverse("integrations:endpoint-edit", args=[slug, endpoint.pk]),
        "log": reverse("integrations:delivery-list", args=[slug]),
        "endpoint-log": reverse("integrations:endpoint-deliveries", args=[slug, endpoint.pk]),
        "delivery": reverse("integrations:delivery-detail", args=[slug, delivery.pk]),
    }


# --- who sees what -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER])
def test_every_webhook_page_renders_for_roles_that_manage_webhooks(org, role):
    endpoint = make_endpoint(org, description="CRM sync")
    delivery = make_delivery(endpoint)
    client = client_for(org, role)

    got = {name: client.get(url) for name, url in pages(org, endpoint, delivery).items()}

    assert {name: r.status_code for name, r in got.items()} == dict.fromkeys(got, 200)
    assert "https://hooks.example.com/convene" in got["endpoints"].content.decode()
    assert "CRM sync" in got["detail"].content.decode()
    assert delivery.outbox_event.public_id in got["log"].content.decode()
    assert b'href="/o/acme-test/webhooks/"' in got["endpoints"].content  # the nav entry


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.VIEWER, Role.CHECKIN])
def test_webhook_pages_are_forbidden_to_other_roles_and_hidden_from_their_nav(org, role):
    endpoint = make_endpoint(org)
    delivery = make_delivery(endpoint)
    client = client_for(org, role)

    got = {name: client.get(url).status_code for name, url in pages(org, endpoint, delivery).items()}

    assert got == dict.fromkeys(got, 403)
    assert "Webhooks</a>" not in client.get(reverse("events:dashboard", args=[org.slug])).content.decode()


def test_another_organizations_endpoint_and_delivery_answer_404_and_stay_untouched(org, other_org):
    theirs = make_endpoint(other_org, url="https://hooks.globex.test/secret")
    their_delivery = make_delivery(theirs, status=DeliveryStatus.FAILED)
    client = client_for(org, Role.OWNER)

    reads = {name: client.get(url).status_code for name, url in pages(org, theirs, their_delivery).items() if "{" not in url}
    reads.pop("endpoints"), reads.pop("new"), reads.pop("log")
    writes = {
        name: client.post(reverse(f"integrations:{name}", args=[org.slug, theirs.pk])).status_code
        for name in ("endpoint-delete", "endpoint-disable", "endpoint-rotate", "endpoint-test")
    }
    writes["replay"] = client.post(reverse("integrations:delivery-replay", args=[org.slug, their_delivery.pk])).status_code

    assert set(reads.values()) == {404}, reads
    assert set(writes.values()) == {404}, writes
    theirs.refresh_from_db()
    assert (theirs.enabled, WebhookDelivery.objects.get(pk=their_delivery.pk).status) == (True, DeliveryStatus.FAILED)
    assert "hooks.globex.test" not in client.get(reverse("integrations:delivery-list", args=[org.slug])).content.decode()


# --- endpoints ---------------------------------------------------------------------------------------


def test_create_shows_the_secret_once_with_a_copy_button(org):
    client = client_for(org, Role.DEVELOPER)

    response = client.post(
        reverse("integrations:endpoint-create", args=[org.slug]),
        {"url": "https://hooks.example.com/in", "description": "CRM", "event_types": ["registration.confirmed"], "enabled": "on"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get(organization=org)
    again = client.get(reverse("integrations:endpoint-detail", args=[org.slug, endpoint.pk]))

    html = response.content.decode()
    assert response.redirect_chain == [(reverse("integrations:endpoint-detail", args=[org.slug, endpoint.pk]), 302)]
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in html
    assert "won't see it again" in html
    assert 'data-copy="#endpoint-secret-value"' in html
    assert (endpoint.url, endpoint.description, endpoint.event_types) == (
        "https://hooks.example.com/in",
        "CRM",
        ["registration.confirmed"],
    )
    assert endpoint.secret not in again.content.decode()


def test_create_with_all_events_subscribes_to_everything_and_can_start_disabled(org):
    client = client_for(org, Role.OWNER)

    client.post(
        reverse("integrations:endpoint-create", args=[org.slug]),
        {"url": "https://hooks.example.com/all", "all_events": "on", "event_types": ["payment.failed"]},
    )

    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert (endpoint.event_types, endpoint.enabled, endpoint.disabled_reason) == ([], False, "Disabled by a user.")


def test_form_shows_the_services_errors_beside_their_fields(org, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    client = client_for(org, Role.OWNER)

    bad_url = client.post(
        reverse("integrations:endpoint-create", args=[org.slug]), {"url": "http://10.0.0.5/hook", "all_events": "on"}
    )
    no_events = client.post(reverse("integrations:endpoint-create", args=[org.slug]), {"url": "https://hooks.example.com/x"})

    assert bad_url.status_code == 200
    assert "Webhook URLs must use https://." in field_block(bad_url.content.decode(), "url")
    assert "Choose at least one event type, or all events." in field_block(no_events.content.decode(), "event_types")
    assert 'value="https://hooks.example.com/x"' in no_events.content.decode()  # what was typed stays
    assert not WebhookEndpoint.objects.filter(organization=org).exists()


def test_the_form_offers_all_fourteen_event_types_grouped_by_resource(org):
    html = client_for(org, Role.OWNER).get(reverse("integrations:endpoint-create", args=[org.slug])).content.decode()

    assert html.count('name="event_types"') == 14
    for group in ("Events", "Registrations", "Payments", "Check-ins", "Sessions"):
        assert f"<legend>{group}</legend>" in html


def test_edit_changes_the_settings_and_switches_the_endpoint_off(org):
    endpoint = make_endpoint(org, event_types=["event.created"])
    client = client_for(org, Role.OWNER)

    response = client.post(
        reverse("integrations:endpoint-edit", args=[org.slug, endpoint.pk]),
        {"url": "https://hooks.example.com/v2", "event_types": ["session.created", "event.created"], "description": "v2"},
    )

    endpoint.refresh_from_db()
    assert response.status_code == 302
    assert (endpoint.url, endpoint.event_types, endpoint.description) == (
        "https://hooks.example.com/v2",
        ["event.created", "session.created"],
        "v2",
    )
    assert endpoint.enabled is False
    detail = client.get(reverse("integrations:endpoint-detail", args=[org.slug, endpoint.pk])).content.decode()
    assert "Disabled by a user." in detail
    assert "Enable endpoint" in detail


def test_rotate_shows_the_new_secret_once_and_says_both_signatures_are_sent(org):
    endpoint = make_endpoint(org)
    old_secret = endpoint.secret
    client = client_for(org, Role.DEVELOPER)

    response = client.post(reverse("integrations:endpoint-rotate", args=[org.slug, endpoint.pk]), follow=True)
    endpoint.refresh_from_db()
    again = client.get(reverse("integrations:endpoint-detail", args=[org.slug, endpoint.pk])).content.decode()

    html = response.content.decode()
    assert endpoint.secret != old_secret
    assert endpoint.secret in html
    assert "both signatures" in html
    assert endpoint.secret not in again
    assert "A secret rotation is under way" in again


def test_list_shows_the_reason_a_disabled_endpoint_stopped_and_the_success_rate(org):
    broken = make_endpoint(
        org, url="https://hooks.example.com/gone", enabled=False, disabled_reason="Every attempt failed for 5 days."
    )
    working = make_endpoint(org, url="https://hooks.example.com/ok")
    for status in [DeliveryStatus.SUCCEEDED] * 3 + [DeliveryStatus.FAILED]:
        make_delivery(working, status=status)
    make_delivery(broken, status=DeliveryStatus.FAILED)

    html = client_for(org, Role.OWNER).get(reverse("integrations:endpoint-list", args=[org.slug])).content.decode()

    assert "Every attempt failed for 5 days." in html
    assert "<strong>75 %</strong> delivered" in html
    assert "<strong>0 %</strong> delivered" in html


def test_disable_then_enable_from_the_endpoint_page(org):
    endpoint = make_endpoint(org)
    client = client_for(org, Role.OWNER)

    client.post(reverse("integrations:endpoint-disable", args=[org.slug, endpoint.pk]))
    endpoint.refresh_from_db()
    disabled = endpoint.enabled
    client.post(reverse("integrations:endpoint-enable", args=[org.slug, endpoint.pk]))
    endpoint.refresh_from_db()

    assert (disabled, endpoint.enabled, endpoint.disabled_reason) == (False, True, "")


def test_delete_removes_the_endpoint_and_its_log(org):
    endpoint = make_endpoint(org)
    make_delivery(endpoint)
    client = client_for(org, Role.OWNER)

    response = client.post(reverse("integrations:endpoint-delete", args=[org.slug, endpoint.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("integrations:endpoint-list", args=[org.slug])
    assert "is deleted" in response.content.decode()
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()


def test_send_test_event_of_the_chosen_type_reaches_the_receiver(org, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(org, url=receiver.url)
    client = client_for(org, Role.DEVELOPER)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("integrations:endpoint-test", args=[org.slug, endpoint.pk]), {"event_type": "checkin.completed"}
        )

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert response["Location"] == reverse("integrations:delivery-detail", args=[org.slug, delivery.pk])
    assert [json.loads(r["body"])["event"] for r in receiver.posts()] == ["checkin.completed"]
    assert json.loads(receiver.posts()[0]["body"])["data"]["test"] is True
    page = client.get(response["Location"]).content.decode()
    assert "HTTP 200" in page


def test_redeliver_failed_since_sends_only_the_failed_ones_since_then(org, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(org, url=receiver.url)
    old = make_delivery(endpoint, status=DeliveryStatus.FAILED, created_at=timezone.now() - timedelta(days=3))
    recent = make_delivery(endpoint, status=DeliveryStatus.FAILED, created_at=timezone.now() - timedelta(hours=2))
    make_delivery(endpoint, status=DeliveryStatus.SUCCEEDED)
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org, Role.OWNER).post(
            reverse("integrations:endpoint-redeliver-failed", args=[org.slug, endpoint.pk]), {"since": since}
        )

    assert response.status_code == 302
    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [recent.outbox_event.public_id]
    assert WebhookDelivery.objects.get(pk=old.pk).status == DeliveryStatus.FAILED


# --- delivery log --------------------------------------------------------------------------------------


def test_filters_narrow_the_log_and_htmx_gets_only_the_table(org):
    endpoint = make_endpoint(org)
    other = make_endpoint(org, url="https://hooks.example.com/other")
    failed = make_delivery(endpoint, "payment.failed", DeliveryStatus.FAILED)
    make_delivery(endpoint, "payment.failed", DeliveryStatus.SUCCEEDED)
    make_delivery(endpoint, "event.created", DeliveryStatus.FAILED)
    elsewhere = make_delivery(other, "payment.failed", DeliveryStatus.FAILED)
    client = client_for(org, Role.DEVELOPER)
    url = reverse("integrations:delivery-list", args=[org.slug])

    def ids(response) -> list[str]:
        html = response.content.decode()
        return [d.outbox_event.public_id for d in WebhookDelivery.objects.order_by("-id") if d.outbox_event.public_id in html]

    both = client.get(url, {"status": "failed", "event_type": "payment.failed"})
    one_endpoint = client.get(url, {"status": "failed", "event_type": "payment.failed", "endpoint": endpoint.pk})
    by_id = client.get(url, {"q": failed.outbox_event.public_id}, headers={"HX-Request": "true"})
    endpoint_log = client.get(reverse("integrations:endpoint-deliveries", args=[org.slug, endpoint.pk]), {"status": "failed"})

    assert ids(both) == [elsewhere.outbox_event.public_id, failed.outbox_event.public_id]
    assert ids(one_endpoint) == [failed.outbox_event.public_id]
    assert ids(by_id) == [failed.outbox_event.public_id]
    assert "<h1>" not in by_id.content.decode() and 'id="delivery-table"' in by_id.content.decode()
    assert len(ids(endpoint_log)) == 2 and elsewhere.outbox_event.public_id not in endpoint_log.content.decode()


def test_the_log_polls_only_while_something_is_pending(org):
    endpoint = make_endpoint(org)
    pending = make_delivery(endpoint, status=DeliveryStatus.PENDING, next_attempt_at=timezone.now())
    client = client_for(org, Role.OWNER)
    url = reverse("integrations:delivery-list", args=[org.slug])

    detail_url = reverse("integrations:delivery-detail", args=[org.slug, pending.pk])

    while_pending = client.get(url, headers={"HX-Request": "true"}).content.decode()
    detail_while_pending = client.get(detail_url, headers={"HX-Request": "true"}).content.decode()
    WebhookDelivery.objects.filter(pk=pending.pk).update(status=DeliveryStatus.SUCCEEDED)
    settled = client.get(url, headers={"HX-Request": "true"}).content.decode()
    detail_settled = client.get(detail_url).content.decode()

    assert 'hx-trigger="every 3s"' in while_pending
    assert 'hx-trigger="every 3s"' in detail_while_pending and "<h1>" in detail_while_pending
    assert "<footer" not in detail_while_pending  # the fragment only
    assert 'hx-trigger="every 3s"' not in settled
    assert 'hx-trigger="every 3s"' not in detail_settled


def test_log_paginates_and_keeps_its_filters_in_the_page_links(org):
    endpoint = make_endpoint(org)
    for _ in range(51):
        make_delivery(endpoint, "event.created", DeliveryStatus.FAILED)
    client = client_for(org, Role.OWNER)

    first = client.get(reverse("integrations:delivery-list", args=[org.slug]), {"status": "failed"}).content.decode()
    second = client.get(reverse("integrations:delivery-list", args=[org.slug]), {"status": "failed", "page": 2}).content.decode()

    assert first.count('data-testid="delivery-row"') == 50
    assert "?status=failed&page=2" in first
    assert second.count('data-testid="delivery-row"') == 1


def test_log_query_count_does_not_grow_with_rows(org):
    endpoint = make_endpoint(org)
    client = client_for(org, Role.OWNER)
    url = reverse("integrations:delivery-list", args=[org.slug])
    make_delivery(endpoint)
    client.get(url)  # warm the session and the user

    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(2):
        make_delivery(endpoint, status=DeliveryStatus.FAILED)
    with CaptureQueriesContext(connection) as three:
        client.get(url)
    with CaptureQueriesContext(connection) as list_three:
        client.get(reverse("integrations:endpoint-list", args=[org.slug]))
    make_endpoint(org, url="https://hooks.example.com/2")
    with CaptureQueriesContext(connection) as list_four:
        client.get(reverse("integrations:endpoint-list", args=[org.slug]))

    assert len(one) == len(three)
    assert len(list_three) == len(list_four)


def test_delivery_page_shows_the_request_as_sent_and_each_attempt(org):
    endpoint = make_endpoint(org)
    delivery = make_delivery(endpoint, status=DeliveryStatus.FAILED, attempt_count=2, last_status_code=500)
    event = delivery.outbox_event
    recorded = {"webhook-id": event.public_id, "webhook-timestamp": "1700000000", "webhook-signature": "v1,abc="}
    WebhookAttempt.objects.create(
        organization=org, delivery=delivery, status_code=None, duration_ms=15000, error="No answer within 15 s."
    )
    WebhookAttempt.objects.create(
        organization=org, delivery=delivery, status_code=500, duration_ms=42, response_excerpt="boom", request_headers=recorded
    )

    html = (
        client_for(org, Role.DEVELOPER)
        .get(reverse("integrations:delivery-detail", args=[org.slug, delivery.pk]))
        .content.decode()
    )

    pretty = json.dumps(json.loads(webhooks.message_body(event)), indent=2, ensure_ascii=False)
    assert pretty.replace('"', "&quot;") in html
    assert "webhook-signature: v1,abc=" in html  # the last attempt's recorded headers
    assert f"webhook-id: {event.public_id}" in html
    assert "No answer within 15 s." in html and "boom" in html and "HTTP 500" in html and "42 ms" in html
    assert "were not recorded" not in html.split('data-testid="request-headers"')[0].rsplit("<h3>Headers</h3>", 1)[1]


def test_delivery_page_tells_the_headers_again_when_none_were_recorded(org):
    endpoint = make_endpoint(org)
    delivery = make_delivery(endpoint, status=DeliveryStatus.FAILED, attempt_count=1)
    attempt = WebhookAttempt.objects.create(organization=org, delivery=delivery, status_code=503, duration_ms=5)

    html = client_for(org, Role.OWNER).get(reverse("integrations:delivery-detail", args=[org.slug, delivery.pk])).content.decode()

    assert f"webhook-id: {delivery.outbox_event.public_id}" in html
    assert f"webhook-timestamp: {int(attempt.attempted_at.timestamp())}" in html
    assert "webhook-signature" not in html
    assert "were not recorded" in html


def test_replay_sends_the_same_event_again_as_a_new_attempt(org, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(org, url=receiver.url)
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.webhook_endpoint_send_test(org=org, actor=None, endpoint_id=endpoint.pk)
    receiver.status = 200
    client = client_for(org, Role.DEVELOPER)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:delivery-replay", args=[org.slug, delivery.pk]))
    page = client.get(response["Location"]).content.decode()

    delivery.refresh_from_db()
    assert list(delivery.attempts.order_by("id").values_list("status_code", flat=True)) == [500, 200]
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [r["headers"]["webhook-id"] for r in receiver.posts()] == [delivery.outbox_event.public_id] * 2
    assert page.count('data-testid="attempt-row"') == 2
    assert "Sent again" in page


def test_replay_to_a_disabled_endpoint_explains_why_nothing_was_sent(org):
    endpoint = make_endpoint(org, enabled=False, disabled_reason="The endpoint answered 410 Gone.")
    delivery = make_delivery(endpoint, status=DeliveryStatus.FAILED)

    response = client_for(org, Role.OWNER).post(
        reverse("integrations:delivery-replay", args=[org.slug, delivery.pk]), follow=True
    )

    assert "Enable the webhook endpoint before sending it deliveries again." in response.content.decode()
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED


# --- e-mail when an endpoint is switched off on its own -----------------------------------------------


@pytest.fixture
def team(org):
    return {role: make_member(org, role, email=f"{role}@acme.test") for role in Role.values}


def publish(org) -> None:
    with transaction.atomic():
        services.outbox_publish(org=org, event_type="registration.confirmed", data={"id": 1})


def test_endpoint_answering_410_is_disabled_and_owners_and_admins_are_told(
    org, team, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(org, url=receiver.url)
    make_endpoint(make_org("Elsewhere"))  # another organization's people hear nothing
    receiver.status = 410

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)

    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == ["admin@acme.test", "owner@acme.test"]
    assert receiver.url in mail.subject
    link = reverse("integrations:endpoint-detail", args=[org.slug, endpoint.pk])
    assert "The endpoint answered 410 Gone." in mail.body and link in mail.body and receiver.url in mail.body
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert "The endpoint answered 410 Gone." in html and f'{link}"' in html


def test_five_days_of_failures_disable_the_endpoint_and_send_the_email(
    org, team, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(org, url=receiver.url, failing_since=timezone.now() - timedelta(days=5, minutes=1))
    receiver.status = 503

    with django_capture_on_commit_callbacks(execute=True):
        publish(org)

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "Every attempt failed for 5 days.")
    assert [sorted(m.to) for m in mailoutbox] == [["admin@acme.test", "owner@acme.test"]]
    assert "Every attempt failed for 5 days." in mailoutbox[0].body


def test_disabling_by_hand_sends_no_email(org, team, mailoutbox, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(org)

    with django_capture_on_commit_callbacks(execute=True):
        client_for(org, Role.OWNER).post(reverse("integrations:endpoint-disable", args=[org.slug, endpoint.pk]))
        services.webhook_endpoint_enable(org=org, actor=None, endpoint_id=endpoint.pk)
        services.webhook_endpoint_disable(org=org, actor=None, endpoint_id=endpoint.pk)  # as the API does

    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled is False
    assert mailoutbox == []


def test_no_email_when_the_endpoint_was_enabled_again_before_the_worker_ran(org, team, mailoutbox):
    from integrations.tasks import endpoint_disabled_email_task

    endpoint = make_endpoint(org)

    assert endpoint_disabled_email_task(endpoint.pk) == 0
    assert endpoint_disabled_email_task(endpoint.pk + 1000) == 0
    assert mailoutbox == []
