"""An idempotent demo: organization ``acme``, its logins, and events with sessions and registrations."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, Role, User
from events import services
from events.models import Event, Registration

DEMO_PASSWORD = "convene-demo"  # noqa: S105 - printed on purpose: these are demo logins
DEMO_USERS = [
    ("owner@acme.test", "Olivia Owner", Role.OWNER),
    ("developer@acme.test", "Dev Eloper", Role.DEVELOPER),
    ("organizer@acme.test", "Oscar Organizer", Role.ORGANIZER),
    ("door@acme.test", "Dora Door", Role.CHECKIN),
]
FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances", "Ken", "Radia", "Tim", "Hedy"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Ritchie", "Allen", "Thompson", "Perlman"]


def _local(days: int, hour: int, tz: str) -> datetime:
    """A wall-clock hour ``days`` from today in the event's time zone."""
    day = timezone.now().astimezone(ZoneInfo(tz)) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


class Command(BaseCommand):
    help = "Create (or keep) the demo organization 'acme' with logins, events, sessions and registrations."

    def handle(self, *args, **options) -> None:
        org, _ = Organization.objects.get_or_create(slug="acme", defaults={"name": "Acme Conferences"})
        for email, name, role in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
            Membership.objects.get_or_create(organization=org, user=user, defaults={"role": role})
        if not Event.objects.for_org(org).exists():
            self._events(org)
        self.stdout.write(self.style.SUCCESS("Demo organization 'acme' is ready."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for email, _name, role in DEMO_USERS:
            self.stdout.write(f"  {role.label:<15} {email}")

    def _events(self, org: Organization) -> None:
        owner = User.objects.get(email="owner@acme.test")
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        rng = random.Random(42)  # noqa: S311 - demo data, not security
        speakers = [
            services.speaker_create(org=org, actor=owner, name=n, company=c)
            for n, c in [("Ada Lovelace", "Analytical Engines"), ("Grace Hopper", "US Navy"), ("Alan Kay", "PARC")]
        ]
        conf = services.event_create(
            org=org,
            actor=owner,
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
                actor=owner,
                event_id=conf.pk,
                title=title,
                room=room,
                capacity=None if room == "Main hall" else 40,
                starts_at=conf.starts_at + day + timedelta(hours=1 + 2 * (i % 2)),
                ends_at=conf.starts_at + day + timedelta(hours=2 + 2 * (i % 2)),
                speaker_ids=[speakers[i % 3].pk],
            )
        standard = services.ticket_type_create(
            org=org, actor=owner, event_id=conf.pk, name="Standard", price=Decimal("0"), currency="EUR", capacity=200
        )
        services.ticket_type_create(
            org=org, actor=owner, event_id=conf.pk, name="Supporter", price=Decimal("99.00"), currency="EUR", capacity=50
        )
        services.event_publish(org=org, actor=owner, event_id=conf.pk)

        meetup = services.event_create(
            org=org,
            actor=owner,
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
            org=org, actor=owner, event_id=meetup.pk, name="Free entry", price=Decimal("0"), currency="EUR", capacity=60
        )
        services.event_publish(org=org, actor=owner, event_id=meetup.pk)

        services.event_create(
            org=org,
            actor=owner,
            title="Design Systems Workshop",
            description="A draft: not published yet.",
            starts_at=_local(45, 10, "Europe/London"),
            ends_at=_local(45, 16, "Europe/London"),
            timezone="Europe/London",
            venue_name="",
            venue_address="",
            online_url="https://meet.example.com/design",
        )

        for tt, count in ((standard, 36), (meetup_tt, 18)):
            for i in range(count):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                reg = services.registration_create(
                    org=org,
                    actor=None,
                    ticket_type_id=tt.pk,
                    name=f"{first} {last}",
                    email=f"{first}.{last}.{i}@example.com".lower(),
                )
                with transaction.atomic():
                    Registration.objects.filter(pk=reg.pk).update(
                        created_at=now - timedelta(days=rng.randint(0, 13), hours=rng.randint(0, 20))
                    )
                if i % 4 == 0 and tt == meetup_tt:
                    services.checkin_perform(org=org, actor=owner, registration_id=reg.pk)
