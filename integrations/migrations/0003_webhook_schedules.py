"""Every install gets the periodic webhook jobs: retries of due deliveries and the outbox sweep.

``manage.py webhooks_schedule`` repairs them if someone edits them in the admin.
"""

from django.db import migrations

SCHEDULES = {
    "webhooks: deliver due": "integrations.tasks.webhooks_deliver_due_task",
    "webhooks: outbox sweep": "integrations.tasks.outbox_sweep_task",
}


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1}
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_webhooks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
