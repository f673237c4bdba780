from __future__ import annotations

import secrets
import zoneinfo
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization, OrgQuerySet

TIMEZONE_CHOICES = sorted((tz, tz) for tz in zoneinfo.available_timezones() if "/" in tz or tz == "UTC")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud at the door


def registration_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class EventStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    CANCELLED = "cancelled", _("Cancelled")


class Event(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        verbose_name=_("series"),
        help_text=_("Part of a series: the series' main event."),
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=EventStatus.choices, default=EventStatus.DRAFT, db_index=True)
    cancellation_reason = models.TextField(blank=True)
    venue_name = models.CharField(max_length=200, blank=True)
    venue_address = models.CharField(max_length=300, blank=True)
    online_url = models.URLField(blank=True, verbose_name=_("online URL"))
    timezone = models.CharField(max_length=64, choices=TIMEZONE_CHOICES, default="UTC")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "slug"], name="event_unique_slug"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"),
        ]
        indexes: ClassVar = [models.Index(fields=["organization", "starts_at"], name="event_org_starts")]

    def __str__(self) -> str:
        return self.title

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_published(self) -> bool:
        return self.status == EventStatus.PUBLISHED

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED


class Speaker(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="speakers")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    bio = models.TextField(blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Session(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    room = models.CharField(max_length=100, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text=_("Leave empty for no limit."))
    speakers = models.ManyToManyField(Speaker, blank=True, related_name="sessions")
    cancelled = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "room", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.title


class TicketType(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"), validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="EUR")
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text=_("Leave empty for no limit."))
    sales_start = models.DateTimeField(null=True, blank=True)
    sales_end = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(price__gte=0), name="tickettype_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_free(self) -> bool:
        return self.price == 0

    def on_sale(self, now=None) -> bool:
        now = now or dj_timezone.now()
        if self.sales_start and now < self.sales_start:
            return False
        return not (self.sales_end and now >= self.sales_end)


class RegistrationStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATUSES = (RegistrationStatus.PENDING_PAYMENT, RegistrationStatus.CONFIRMED)


class RegistrationQuerySet(OrgQuerySet):
    def active(self) -> RegistrationQuerySet:
        """Registrations that hold a seat."""
        return self.filter(status__in=ACTIVE_STATUSES)


class Registration(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="registrations")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    status = models.CharField(max_length=20, choices=RegistrationStatus.choices, db_index=True)
    code = models.CharField(max_length=16, unique=True, default=registration_code)
    sessions = models.ManyToManyField(Session, through="RegistrationSession", blank=True, related_name="registrations")
    created_at = models.DateTimeField(default=dj_timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints: ClassVar = [
            # One seat per e-mail and ticket type: a retry gets the existing registration.
            models.UniqueConstraint(
                fields=["ticket_type", "email"],
                condition=~Q(status="cancelled"),
                name="registration_unique_active_email",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["event", "status"], name="registration_event_status"),
            models.Index(fields=["ticket_type", "status"], name="registration_tickettype_status"),
            models.Index(fields=["organization", "-created_at"], name="registration_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> ({self.code})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class RegistrationSession(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="session_links")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="registration_links")

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["registration", "session"], name="registrationsession_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.registration_id} → {self.session_id}"


class CheckIn(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkins")
    registration = models.OneToOneField(Registration, on_delete=models.CASCADE, related_name="checkin")
    checked_in_at = models.DateTimeField(default=dj_timezone.now)
    gate = models.CharField(max_length=50, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_in_at"]

    def __str__(self) -> str:
        return f"Check-in of {self.registration_id} at {self.checked_in_at:%Y-%m-%d %H:%M}"
