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
    #: grows with every change attendees should see; the iCalendar SEQUENCE and the ticket's freshness
    sequence = models.PositiveIntegerField(default=0)
    #: Ed25519 key pair that signs this event's ticket tokens (raw keys, base64url); made on first use
    ticket_private_key = models.CharField(max_length=100, blank=True, editable=False)
    ticket_public_key = models.CharField(max_length=100, blank=True, editable=False)

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
    #: the iCalendar SEQUENCE: grows with every change
    sequence = models.PositiveIntegerField(default=0)

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
    updated_at = models.DateTimeField(default=dj_timezone.now)
    #: the iCalendar SEQUENCE of the attendee's calendar file: grows with every change
    sequence = models.PositiveIntegerField(default=0)
    #: the rendered PDF ticket, and a digest of what it was rendered from (re-rendered when that changes)
    ticket_pdf = models.FileField(upload_to="tickets/%Y/%m/", blank=True)
    ticket_digest = models.CharField(max_length=64, blank=True)
    ticket_rendered_at = models.DateTimeField(null=True, blank=True)

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
    #: the scanner's own id for this scan: an offline upload sent twice checks in once
    nonce = models.CharField(max_length=100, blank=True)
    #: when the check-in reached the server (``checked_in_at`` is when the scanner scanned)
    recorded_at = models.DateTimeField(default=dj_timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_in_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "nonce"], condition=~Q(nonce=""), name="checkin_unique_nonce"),
        ]

    def __str__(self) -> str:
        return f"Check-in of {self.registration_id} at {self.checked_in_at:%Y-%m-%d %H:%M}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")


class PaymentMethod(models.TextChoices):
    MANUAL = "manual", _("Manual (cash, bank transfer, invoice)")
    TEST = "test", _("Test card (sandbox)")


class Payment(models.Model):
    """Money received for a registration. Gateways come later; the states are settled now:
    pending → completed | failed; completed → refunded (in full or in part)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True)
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.MANUAL)
    reference = models.CharField(max_length=200, blank=True, help_text=_("Receipt, transfer or invoice number."))
    failure_reason = models.CharField(max_length=300, blank=True)
    refunded_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    refund_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_not_negative"),
            models.CheckConstraint(condition=Q(refunded_amount__lte=models.F("amount")), name="payment_refund_within_amount"),
        ]
        indexes: ClassVar = [models.Index(fields=["organization", "-created_at"], name="payment_org_created")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.registration_id} ({self.status})"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ExportJob(models.Model):
    """Long work an organizer waits for (all tickets as one PDF, big CSVs): progress, then a file."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if self.status == ExportStatus.DONE else (self.done * 100 // self.total if self.total else 0)


class EmailKind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Registration confirmed")
    CANCELLATION = "cancellation", _("Registration cancelled")
    EVENT_CHANGED = "event_changed", _("Event changed")
    REMINDER = "reminder", _("Reminder (24 hours before)")


class EmailTemplate(models.Model):
    """An organization's own wording for one kind of attendee e-mail (the built-in one applies otherwise)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="email_templates")
    kind = models.CharField(max_length=30, choices=EmailKind.choices)
    subject = models.CharField(max_length=200)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "kind"], name="emailtemplate_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.kind}"


class SentEmail(models.Model):
    """One attendee e-mail sent (or due): a reminder goes out once per registration and kind."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="sent_emails")
    kind = models.CharField(max_length=30, choices=EmailKind.choices)
    key = models.CharField(max_length=100, help_text=_("What makes this e-mail unique, e.g. the event's sequence."))
    sent_at = models.DateTimeField(default=dj_timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["registration", "kind", "key"], name="sentemail_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.registration_id}"
