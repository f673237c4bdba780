from django.contrib import admin

from events.models import CheckIn, Event, Registration, Session, Speaker, TicketType


class TicketTypeInline(admin.TabularInline):
    model = TicketType
    extra = 0
    exclude = ["organization"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "organization", "status", "starts_at", "timezone"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    inlines = [TicketTypeInline]


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["title", "event", "starts_at", "room", "capacity", "cancelled"]
    list_filter = ["cancelled"]


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "email", "event", "ticket_type", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["code", "name", "email"]


admin.site.register(Speaker)
admin.site.register(CheckIn)
