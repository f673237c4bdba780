"""Reads for the team and audit pages. Every selector starts from ``for_org(org)``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import ApiKey, App, AuditEntry, Invitation, Membership, Organization, User

#: the actor filter value for changes made by nobody logged in (public registrations, the API's anonymous calls)
PUBLIC_ACTOR = "public"


def membership_list(*, org: Organization) -> QuerySet[Membership]:
    return Membership.objects.for_org(org).select_related("user").order_by("created_at", "id")


def membership_get(*, org: Organization, membership_id: int) -> Membership:
    return Membership.objects.for_org(org).select_related("user").get(pk=membership_id)


def membership_of(*, org: Organization, user: User) -> Membership | None:
    return Membership.objects.for_org(org).filter(user=user).first()


def invitation_pending_list(*, org: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.for_org(org).filter(accepted_at=None).select_related("invited_by").order_by("-created_at", "-id")


def invitation_pending_get(*, org: Organization, invitation_id: int) -> Invitation:
    return Invitation.objects.for_org(org).filter(accepted_at=None).get(pk=invitation_id)


def invitation_by_token(*, token: str) -> Invitation | None:
    """A pending invitation by its secret token (the token is the only key: there is no organization yet)."""
    return Invitation.objects.select_related("organization", "invited_by").filter(token=token, accepted_at=None).first()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def audit_entry_list(
    *,
    org: Organization,
    actor: str = "",
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEntry]:
    """Newest first. ``actor`` is a user id, ``PUBLIC_ACTOR`` or empty; dates are inclusive days."""
    qs = AuditEntry.objects.for_org(org).select_related("actor")
    if actor == PUBLIC_ACTOR:
        qs = qs.filter(actor__isnull=True)
    elif actor.isdigit():
        qs = qs.filter(actor_id=int(actor))
    if action:
        qs = qs.filter(action=action)
    if date_from:
        qs = qs.filter(created_at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    return qs.order_by("-created_at", "-id")


def audit_action_choices(*, org: Organization) -> list[str]:
    """The distinct actions recorded in this organization, for the filter."""
    return list(AuditEntry.objects.for_org(org).order_by("action").values_list("action", flat=True).distinct())


# --- Developer portal: apps and their keys ---------------------------------------------------------


def app_list(*, org: Organization) -> QuerySet[App]:
    """The organization's apps, each with ``active_key_count`` (keys neither revoked nor expired)."""
    now = timezone.now()
    active = Q(api_keys__revoked_at=None) & (Q(api_keys__expires_at=None) | Q(api_keys__expires_at__gt=now))
    return App.objects.for_org(org).annotate(active_key_count=Count("api_keys", filter=active)).order_by("name", "id")


def app_get(*, org: Organization, app_id: int) -> App:
    return App.objects.for_org(org).get(pk=app_id)


def api_key_list(*, org: Organization, app: App | None = None, without_app: bool = False) -> QuerySet[ApiKey]:
    """Keys newest first: of one app, of no app (``without_app``), or all of them."""
    keys = ApiKey.objects.for_org(org).select_related("created_by")
    if app is not None:
        keys = keys.filter(app=app)
    elif without_app:
        keys = keys.filter(app=None)
    return keys.order_by("-created_at", "-id")


def api_key_get(*, org: Organization, api_key_id: int) -> ApiKey:
    return ApiKey.objects.for_org(org).select_related("app").get(pk=api_key_id)
