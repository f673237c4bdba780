"""Every install gets the periodic attendee reminder: every 15 minutes, e-mail confirmed attendees of
events starting within the next 24 hours (each registration once per start time)."""

from django.db import migrations

NAME = "events: attendee reminders"
FUNC = "events.tasks.reminders_send_task"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(name=NAME, defaults={"func": FUNC, "schedule_type": "I", "minutes": 15, "repeats": -1})


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_payments_tickets_calendars_email"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
