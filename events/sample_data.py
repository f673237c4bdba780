"""Sample events for an organization: what ``seed_demo`` gives acme and what a developer's sandbox starts with.

Everything goes through the services (audit entries, outbox rows, tickets), exactly as if someone had used the
portal: a sandbox's API and webhooks then behave like a real organization's.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from events import services
from events.models import Event, Registration

FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances", "Ken", "Radia", "Tim", "Hedy"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Ritchie", "Allen", "Thompson", "Perlman"]


def _local(days: int, hour: int, tz: str) -> datetime:
    """A wall-clock hour ``days`` from today in the event's time zone."""
    day = timezone.now().astimezone(ZoneInfo(tz)) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def sample_data_create(
    *, org: Organization, actor: User | None, conference_attendees: int = 36, meetup_attendees: int = 18, pending: int = 0
) -> list[Event]:
    """Three events (a published two-day conference with sessions and a free and a paid ticket type, a published
    meetup, a draft workshop), speakers, registrations spread over the last two weeks, check-ins for every fourth
    meetup attendee, and ``pending`` registrations waiting for payment on the paid ticket type.

    Each step is its own transaction (the services are durable): call it outside any transaction.
    """
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    rng = random.Random(42)  # noqa: S311 - sample data, not security
    speakers = [
        services.speaker_create(org=org, actor=actor, name=n, company=c)
        for n, c in [("Ada Lovelace", "Analytical Engines"), ("Grace Hopper", "US Navy"), ("Alan Kay", "PARC")]
    ]
    conf = services.event_create(
        org=org,
        actor=actor,
        title="Acme DevConf 2026",
        description="Two days of talks and workshops on building software people love.",
        starts_at=_local(21, 9, "Europe/Berlin"),
        ends_at=_local(22, 18, "Europe/Berlin"),
        timezone="Europe/Berlin",
        venue_name="Kulturbrauerei",
        venue_address="Schönhauser Allee 36, Berlin",
        online_url="",
    )
    for i, (title, room) in enumerate(
        [
            ("Opening keynote", "Main hall"),
            ("Designing APIs", "Room A"),
            ("Webhooks done right", "Room B"),
            ("Closing panel", "Main hall"),
        ]
    ):
        day = timedelta(days=i // 2)
        services.session_create(
            org=org,
            actor=actor,
            event_id=conf.pk,
            title=title,
            room=room,
            capacity=None if room == "Main hall" else 40,
            starts_at=conf.starts_at + day + timedelta(hours=1 + 2 * (i % 2)),
            ends_at=conf.starts_at + day + timedelta(hours=2 + 2 * (i % 2)),
            speaker_ids=[speakers[i % 3].pk],
        )
    standard = services.ticket_type_create(
        org=org, actor=actor, event_id=conf.pk, name="Standard", price=Decimal("0"), currency="EUR", capacity=200
    )
    supporter = services.ticket_type_create(
        org=org, actor=actor, event_id=conf.pk, name="Supporter", price=Decimal("99.00"), currency="EUR", capacity=50
    )
    services.event_publish(org=org, actor=actor, event_id=conf.pk)

    meetup = services.event_create(
        org=org,
        actor=actor,
        title="Python Meetup",
        description="Monthly meetup: lightning talks and pizza.",
        starts_at=_local(6, 18, "Europe/Berlin"),
        ends_at=_local(6, 21, "Europe/Berlin"),
        timezone="Europe/Berlin",
        venue_name="Acme HQ",
        venue_address="Torstraße 1, Berlin",
        online_url="https://meet.example.com/python",
    )
    meetup_tt = services.ticket_type_create(
        org=org, actor=actor, event_id=meetup.pk, name="Free entry", price=Decimal("0"), currency="EUR", capacity=60
    )
    services.event_publish(org=org, actor=actor, event_id=meetup.pk)

    workshop = services.event_create(
        org=org,
        actor=actor,
        title="Design Systems Workshop",
        description="A draft: not published yet.",
        starts_at=_local(45, 10, "Europe/London"),
        ends_at=_local(45, 16, "Europe/London"),
        timezone="Europe/London",
        venue_name="",
        venue_address="",
        online_url="https://meet.example.com/design",
    )

    def register(tt_id: int, i: int) -> Registration:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        reg = services.registration_create(
            org=org, actor=None, ticket_type_id=tt_id, name=f"{first} {last}", email=f"{first}.{last}.{i}@example.com".lower()
        )
        with transaction.atomic():
            Registration.objects.filter(pk=reg.pk).update(
                created_at=now - timedelta(days=rng.randint(0, 13), hours=rng.randint(0, 20))
            )
        return reg

    for tt, count in ((standard, conference_attendees), (meetup_tt, meetup_attendees)):
        for i in range(count):
            reg = register(tt.pk, i)
            if i % 4 == 0 and tt == meetup_tt:
                services.checkin_perform(org=org, actor=actor, registration_id=reg.pk)
    for i in range(pending):
        register(supporter.pk, i)  # a paid ticket type: these wait for their payment
    return [conf, meetup, workshop]
