"""Create (or correct) the periodic webhook jobs in django-q2's schedule. Safe to run on every deploy."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django_q.models import Schedule

SCHEDULES = {
    "webhooks: deliver due": "integrations.tasks.webhooks_deliver_due_task",
    "webhooks: outbox sweep": "integrations.tasks.outbox_sweep_task",
}


class Command(BaseCommand):
    help = "Schedule webhook retries and the outbox sweep every minute (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        for name, func in SCHEDULES.items():
            _schedule, created = Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
            )
            self.stdout.write(f"{'created' if created else 'up to date'}: {name} → {func}")
