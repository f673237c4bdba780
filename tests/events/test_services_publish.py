"""Every write goes through a service that records an audit entry and publishes the right outbox event."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry, Role
from events import services
from events.errors import AlreadyCheckedIn, EventStateError, RegistrationCancelled, RegistrationNotConfirmed, ValidationFailed
from events.models import EventStatus, RegistrationStatus
from integrations.models import OutboxEvent
from integrations.services import outbox_publish
from tests.factories import make_event, make_member, make_ticket_type

pytestmark = pytest.mark.django_db


def published_types(org) -> list[str]:
    return list(OutboxEvent.objects.for_org(org).order_by("id").values_list("event_type", flat=True))


def actions(org) -> list[str]:
    return list(AuditEntry.objects.for_org(org).order_by("created_at", "id").values_list("action", flat=True))


@pytest.fixture
def owner(org):
    return make_member(org, Role.OWNER)


@pytest.fixture
def draft(org, owner):
    return make_event(org, title="Draft event")


def test_event_create_publishes_event_created_with_snapshot(org, owner):
    start = timezone.now() + timedelta(days=3)

    event = services.event_create(
        org=org,
        actor=owner,
        title="PyCon",
        starts_at=start,
        ends_at=start + timedelta(hours=5),
        timezone="Europe/Paris",
        venue_name="Hall",
        venue_address="",
        online_url="",
    )

    row = OutboxEvent.objects.for_org(org).get()
    assert row.event_type == "event.created"
    assert row.payload["id"] == event.pk
    assert row.payload["title"] == "PyCon"
    assert row.payload["status"] == "draft"
    assert row.payload["timezone"] == "Europe/Paris"
    entry = AuditEntry.objects.for_org(org).get()
    assert (entry.action, entry.actor, entry.object_id) == ("events.event.created", owner, str(event.pk))


def test_event_update_publishes_event_updated_with_changes(org, owner, draft):
    OutboxEvent.objects.all().delete()

    services.event_update(org=org, actor=owner, event_id=draft.pk, title="Renamed")

    assert published_types(org) == ["event.updated"]
    entry = AuditEntry.objects.for_org(org).filter(action="events.event.updated").get()
    assert entry.changes == {"title": ["Draft event", "Renamed"]}


def test_event_update_without_changes_publishes_nothing(org, owner, draft):
    OutboxEvent.objects.all().delete()

    services.event_update(org=org, actor=owner, event_id=draft.pk, title=draft.title)

    assert published_types(org) == []


def test_event_publish_requires_a_ticket_type(org, owner, draft):
    with pytest.raises(EventStateError):
        services.event_publish(org=org, actor=owner, event_id=draft.pk)

    draft.refresh_from_db()
    assert draft.status == EventStatus.DRAFT


def test_event_publish_publishes_event_published(org, owner, draft):
    make_ticket_type(draft)
    OutboxEvent.objects.all().delete()

    services.event_publish(org=org, actor=owner, event_id=draft.pk)

    assert published_types(org) == ["event.published"]
    draft.refresh_from_db()
    assert draft.status == EventStatus.PUBLISHED


def test_event_cancel_needs_a_reason_and_publishes_event_cancelled(org, owner, draft):
    with pytest.raises(ValidationFailed) as exc:
        services.event_cancel(org=org, actor=owner, event_id=draft.pk, reason="  ")
    assert exc.value.field == "reason"
    OutboxEvent.objects.all().delete()

    services.event_cancel(org=org, actor=owner, event_id=draft.pk, reason="Venue flooded")

    assert published_types(org) == ["event.cancelled"]
    row = OutboxEvent.objects.for_org(org).get()
    assert row.payload["cancellationReason"] == "Venue flooded"


def test_ticket_type_changes_publish_event_updated(org, owner, draft):
    OutboxEvent.objects.all().delete()

    tt = services.ticket_type_create(
        org=org, actor=owner, event_id=draft.pk, name="VIP", price=Decimal("10"), currency="eur", capacity=5
    )
    services.ticket_type_update(org=org, actor=owner, ticket_type_id=tt.pk, capacity=6)

    assert published_types(org) == ["event.updated", "event.updated"]
    assert OutboxEvent.objects.for_org(org).last().payload["ticketTypes"][0]["capacity"] == 6
    assert actions(org)[-2:] == ["events.ticket_type.created", "events.ticket_type.updated"]
    tt.refresh_from_db()
    assert tt.currency == "EUR"


def test_session_services_publish_session_events(org, owner, draft):
    speaker = services.speaker_create(org=org, actor=owner, name="Grace")
    OutboxEvent.objects.all().delete()

    session = services.session_create(
        org=org,
        actor=owner,
        event_id=draft.pk,
        title="Keynote",
        starts_at=draft.starts_at,
        ends_at=draft.starts_at + timedelta(hours=1),
        room="A",
        capacity=10,
        speaker_ids=[speaker.pk],
    )
    services.session_update(org=org, actor=owner, session_id=session.pk, room="B")
    services.session_cancel(org=org, actor=owner, session_id=session.pk)

    assert published_types(org) == ["session.created", "session.updated", "session.cancelled"]
    assert OutboxEvent.objects.for_org(org).first().payload["speakers"] == [{"id": speaker.pk, "name": "Grace", "company": ""}]


def test_session_outside_the_event_is_refused_beside_its_field(org, owner, draft):
    with pytest.raises(ValidationFailed) as exc:
        services.session_create(
            org=org,
            actor=owner,
            event_id=draft.pk,
            title="Too early",
            starts_at=draft.starts_at - timedelta(hours=2),
            ends_at=draft.starts_at,
        )

    assert exc.value.field == "starts_at"
    assert draft.sessions.count() == 0


def test_free_registration_is_confirmed_and_publishes_created_then_confirmed(org, published_event):
    OutboxEvent.objects.all().delete()
    tt = published_event.ticket_types.get()

    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="Ada@Example.com")

    assert reg.status == RegistrationStatus.CONFIRMED
    assert reg.email == "ada@example.com"
    assert published_types(org) == ["registration.created", "registration.confirmed"]
    assert OutboxEvent.objects.for_org(org).first().payload["code"] == reg.code
    entry = AuditEntry.objects.for_org(org).get(action="events.registration.created")
    assert entry.actor_label == "ada@example.com"


def test_paid_registration_waits_for_payment_then_confirm_publishes_confirmed(org):
    event = make_event(org, publish=True, price=Decimal("25.00"))
    OutboxEvent.objects.all().delete()
    tt = event.ticket_types.get()

    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Bob", email="bob@example.com")
    assert reg.status == RegistrationStatus.PENDING_PAYMENT
    services.registration_confirm(org=org, actor=None, registration_id=reg.pk)

    assert published_types(org) == ["registration.created", "registration.confirmed"]
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.CONFIRMED


def test_registration_cancel_publishes_cancelled_and_frees_the_seat(org):
    event = make_event(org, publish=True, capacity=1)
    tt = event.ticket_types.get()
    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="A", email="a@example.com")
    OutboxEvent.objects.all().delete()

    services.registration_cancel(org=org, actor=None, registration_id=reg.pk)
    again = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="B", email="b@example.com")

    assert published_types(org) == ["registration.cancelled", "registration.created", "registration.confirmed"]
    assert again.status == RegistrationStatus.CONFIRMED


def test_bulk_update_is_all_or_nothing_and_publishes_per_registration(org):
    event = make_event(org, publish=True, price=Decimal("5"))
    tt = event.ticket_types.get()
    regs = [
        services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name=f"P{i}", email=f"p{i}@example.com")
        for i in range(3)
    ]
    services.registration_cancel(org=org, actor=None, registration_id=regs[0].pk)
    OutboxEvent.objects.all().delete()

    result = services.registrations_bulk_update(org=org, actor=None, registration_ids=[r.pk for r in regs], action="confirm")

    assert result == {"changed": 2, "skipped": 1}
    assert published_types(org) == ["registration.confirmed", "registration.confirmed"]


def test_checkin_publishes_checkin_completed_once(org, published_event):
    tt = published_event.ticket_types.get()
    reg = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com")
    OutboxEvent.objects.all().delete()

    services.checkin_perform(org=org, actor=None, registration_id=reg.pk, gate="North")
    with pytest.raises(AlreadyCheckedIn) as exc:
        services.checkin_perform(org=org, actor=None, registration_id=reg.pk)

    assert published_types(org) == ["checkin.completed"]
    assert exc.value.details["gate"] == "North"
    assert OutboxEvent.objects.get().payload["gate"] == "North"


def test_checkin_refuses_cancelled_and_unpaid_registrations(org):
    event = make_event(org, publish=True, price=Decimal("5"))
    tt = event.ticket_types.get()
    unpaid = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="U", email="u@example.com")
    cancelled = services.registration_create(org=org, actor=None, ticket_type_id=tt.pk, name="C", email="c@example.com")
    services.registration_cancel(org=org, actor=None, registration_id=cancelled.pk)

    with pytest.raises(RegistrationNotConfirmed):
        services.checkin_perform(org=org, actor=None, registration_id=unpaid.pk)
    with pytest.raises(RegistrationCancelled):
        services.checkin_perform(org=org, actor=None, registration_id=cancelled.pk)

    assert event.checkins.count() == 0


def test_a_failed_service_leaves_nothing_half_saved(org, owner, draft):
    before_outbox, before_audit = OutboxEvent.objects.count(), AuditEntry.objects.count()

    with pytest.raises(ValidationFailed):
        services.event_update(org=org, actor=owner, event_id=draft.pk, title="New", ends_at=draft.starts_at)

    draft.refresh_from_db()
    assert draft.title == "Draft event"
    assert (OutboxEvent.objects.count(), AuditEntry.objects.count()) == (before_outbox, before_audit)


def test_services_cannot_reach_another_organizations_rows(org, other_org, owner):
    foreign = other_org.events.get()

    with pytest.raises(foreign.DoesNotExist):
        services.event_update(org=org, actor=owner, event_id=foreign.pk, title="Hijacked")

    foreign.refresh_from_db()
    assert foreign.title == "Globex secret summit"


@pytest.mark.django_db(transaction=True)
def test_outbox_publish_refuses_to_run_outside_a_transaction(org):
    with pytest.raises(RuntimeError):
        outbox_publish(org=org, event_type="event.created", data={})

    assert OutboxEvent.objects.count() == 0


def test_outbox_publish_refuses_unknown_event_types(org):
    with transaction.atomic(), pytest.raises(ValueError):
        outbox_publish(org=org, event_type="event.exploded", data={})
