from django.contrib import admin

from integrations.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "event_type", "created_at", "dispatched_at"]
    list_filter = ["event_type"]
    readonly_fields = ["public_id", "organization", "event_type", "payload", "created_at", "dispatched_at"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "organization", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description", "organization__slug"]
    exclude = ["secret", "previous_secret"]
    readonly_fields = ["organization", "previous_secret_expires_at", "failing_since", "created_at"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["outbox_event", "endpoint", "organization", "status", "attempt_count", "next_attempt_at", "last_status_code"]
    list_filter = ["status"]
    list_select_related = ["outbox_event", "endpoint", "organization"]
    readonly_fields = [
        "organization",
        "endpoint",
        "outbox_event",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "created_at",
    ]
    inlines = [WebhookAttemptInline]
