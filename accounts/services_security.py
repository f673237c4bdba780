"""Writes for account security: the organization's "require MFA" switch, and the audit trail of logins.

Every login (password or single sign-on), failed login, throttled login and logout is written to the
audit log of each organization the person belongs to. A failure for an address nobody uses is not
recorded anywhere (there is no organization to tell), and nothing here changes what the login page says,
so it never reveals whether an address has an account.

The recording functions run from allauth's and Django's authentication signals, in the middle of a login:
they use their own (non-durable) transaction so that a caller's transaction, if any, is joined.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from accounts.errors import OwnerOnly
from accounts.models import Membership, Organization, Role, User
from accounts.services import audit_log

#: roles that must use two-factor authentication where the organization requires it
MFA_REQUIRED_ROLES = (Role.OWNER, Role.ADMIN)
#: a throttled address is recorded once per this many seconds (an attacker cannot flood the log)
THROTTLE_AUDIT_SECONDS = 300


def _client_ip(request: HttpRequest | None) -> str:
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


def _organizations_of(user: User) -> list[Organization]:
    return [m.organization for m in Membership.objects.filter(user=user).select_related("organization").order_by("pk")]


def _record(*, user: User, actor: User | None, action: str, changes: dict) -> int:
    orgs = _organizations_of(user)
    with transaction.atomic():
        for org in orgs:
            audit_log(org=org, actor=actor, actor_label=user.email, action=action, changes=changes)
    return len(orgs)


def login_record(*, request: HttpRequest | None, user: User, method: str, provider: str = "", mfa: str = "") -> int:
    """A completed login (``method`` ``password`` or ``sso``); returns how many organizations were told."""
    changes = {"method": method, "ip": _client_ip(request)}
    if provider:
        changes["provider"] = provider
    if mfa:
        changes["mfa"] = mfa
    return _record(user=user, actor=user, action="accounts.login", changes=changes)


def login_failure_record(*, request: HttpRequest | None, email: str) -> int:
    """A failed password login for ``email``: recorded for its organizations if the account exists."""
    email = (email or "").strip().lower()
    user = User.objects.filter(email__iexact=email).first() if email else None
    if user is None:
        return 0
    return _record(user=user, actor=None, action="accounts.login_failed", changes={"email": email, "ip": _client_ip(request)})


def login_throttle_record(*, request: HttpRequest | None, email: str) -> int:
    """Logins for ``email`` are being refused as too many failures: recorded once per window."""
    email = (email or "").strip().lower()
    if not email or not cache.add(f"accounts:login-throttled:{email}", 1, THROTTLE_AUDIT_SECONDS):
        return 0
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return 0
    return _record(user=user, actor=None, action="accounts.login_throttled", changes={"email": email, "ip": _client_ip(request)})


def logout_record(*, request: HttpRequest | None, user: User) -> int:
    return _record(user=user, actor=user, action="accounts.logout", changes={"ip": _client_ip(request)})


def mfa_required_by(*, user: User) -> list[Organization]:
    """The organizations that require ``user`` (an owner or admin there) to use two-factor authentication."""
    return [
        m.organization
        for m in Membership.objects.filter(
            user=user, role__in=MFA_REQUIRED_ROLES, organization__require_mfa_for_admins=True
        ).select_related("organization")
    ]


@transaction.atomic(durable=True)
def organization_security_update(*, org: Organization, actor: User, require_mfa_for_admins: bool) -> Organization:
    """Switch "require two-factor authentication for owners and admins" (owners only)."""
    org = Organization.objects.select_for_update().get(pk=org.pk)
    role = Membership.objects.for_org(org).filter(user=actor).values_list("role", flat=True).first()
    if role != Role.OWNER:
        raise OwnerOnly("Only an owner can change the organization's security settings.", field="require_mfa_for_admins")
    if org.require_mfa_for_admins == require_mfa_for_admins:
        return org
    old = org.require_mfa_for_admins
    org.require_mfa_for_admins = require_mfa_for_admins
    org.save(update_fields=["require_mfa_for_admins"])
    audit_log(
        org=org,
        actor=actor,
        action="accounts.security.updated",
        obj=org,
        changes={"require_mfa_for_admins": [old, require_mfa_for_admins]},
    )
    return org
