from django.contrib import admin

from integrations.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "event_type", "created_at", "dispatched_at"]
    list_filter = ["event_type"]
    readonly_fields = ["public_id", "organization", "event_type", "payload", "created_at", "dispatched_at"]
