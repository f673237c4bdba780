"""An idempotent demo: organization ``acme``, its logins, and events with sessions and registrations."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.models import Membership, Organization, Role, User
from events.models import Event
from events.sample_data import sample_data_create

DEMO_PASSWORD = "convene-demo"  # noqa: S105 - printed on purpose: these are demo logins
DEMO_USERS = [
    ("owner@acme.test", "Olivia Owner", Role.OWNER),
    ("developer@acme.test", "Dev Eloper", Role.DEVELOPER),
    ("organizer@acme.test", "Oscar Organizer", Role.ORGANIZER),
    ("door@acme.test", "Dora Door", Role.CHECKIN),
]


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
        sample_data_create(org=org, actor=User.objects.get(email="owner@acme.test"))
