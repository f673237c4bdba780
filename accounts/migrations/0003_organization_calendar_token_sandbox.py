import secrets

from django.db import migrations, models

import accounts.models


def give_each_organization_a_token(apps, schema_editor):
    # A callable default is evaluated once for existing rows: give each its own secret before it turns unique.
    Organization = apps.get_model("accounts", "Organization")
    for org in Organization.objects.all():
        org.calendar_token = secrets.token_urlsafe(24)
        org.save(update_fields=["calendar_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apikey"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="calendar_token",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(give_each_organization_a_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="organization",
            name="calendar_token",
            field=models.CharField(default=accounts.models.calendar_feed_token, max_length=64, unique=True),
        ),
        migrations.AddField(
            model_name="organization",
            name="is_sandbox",
            field=models.BooleanField(default=False),
        ),
    ]
