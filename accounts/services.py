from __future__ import annotations

import hashlib
import secrets
from contextvars import ContextVar
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_q.tasks import async_task

from accounts.errors import (
    AlreadyMember,
    AppNameTaken,
    InvalidScopes,
    InvitationInvalid,
    KeyInactive,
    KeyModeMismatch,
    LastOwner,
    OwnerOnly,
    SlugTaken,
)
from accounts.models import API_SCOPES, ApiKey, ApiTier, App, AuditEntry, Invitation, Membership, Organization, Role, User
from portal.errors import NotFound

#: who acts when there is no user: set per request by the API (e.g. "api-key cnv_live_abcd…wxyz")
audit_actor_label: ContextVar[str] = ContextVar("audit_actor_label", default="")


def audit_log(
    *,
    org: Organization,
    actor: User | None,
    action: str,
    obj: models.Model | None = None,
    changes: dict | None = None,
    actor_label: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        organization=org,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label
        or (actor.email if actor is not None and actor.is_authenticated else audit_actor_label.get() or "public"),
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes=changes or {},
    )


def _unique_org_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic(durable=True)
def organization_create(*, actor: User, name: str, slug: str = "") -> Organization:
    slug = slug.strip().lower()
    if slug and Organization.objects.filter(slug=slug).exists():
        raise SlugTaken("This address is already taken: choose another one.", field="slug")
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name.strip(), slug=slug or _unique_org_slug(name))
    except IntegrityError as exc:  # someone took the address a moment ago
        raise SlugTaken("This address is already taken: choose another one.", field="slug") from exc
    Membership.objects.create(organization=org, user=actor, role=Role.OWNER)
    audit_log(org=org, actor=actor, action="accounts.organization.created", obj=org)
    return org


def team_rule_error(*, actor_role: str | None, target_role: str | None = None, new_role: str | None = None) -> str | None:
    """Why a member with ``actor_role`` may not change a ``target_role`` member (or give ``new_role``).

    Only an owner may make someone an owner, or change or remove another owner. None when allowed;
    ``actor_role`` None is the system itself (commands, tasks), which may do anything.
    """
    if actor_role is None or actor_role == Role.OWNER:
        return None
    if target_role == Role.OWNER:
        return "Only an owner can change or remove another owner."
    if new_role == Role.OWNER:
        return "Only an owner can make someone an owner."
    return None


def _actor_role(*, org: Organization, actor: User | None) -> str | None:
    if actor is None:
        return None
    return Membership.objects.for_org(org).filter(user=actor).values_list("role", flat=True).first() or ""


def _check_team_rule(
    *, org: Organization, actor: User | None, target_role: str | None = None, new_role: str | None = None
) -> None:
    if error := team_rule_error(actor_role=_actor_role(org=org, actor=actor), target_role=target_role, new_role=new_role):
        raise OwnerOnly(error, field="role")


@transaction.atomic(durable=True)
def member_invite(*, org: Organization, actor: User, email: str, role: str, base_url: str = "") -> Invitation:
    """Invite ``email`` with ``role``; after commit the invitation link is e-mailed by the worker.

    ``base_url`` (e.g. ``https://events.example.com/``) makes the e-mailed link absolute.
    """
    email = email.strip().lower()
    _check_team_rule(org=org, actor=actor, new_role=role)
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise AlreadyMember(f"{email} is already a member of this organization.", field="email")
    invitation, created = Invitation.objects.for_org(org).get_or_create(
        email=email,
        accepted_at=None,
        defaults={"organization": org, "role": role, "token": secrets.token_urlsafe(32), "invited_by": actor},
    )
    if not created:
        invitation.role = role
        invitation.save(update_fields=["role"])
    audit_log(org=org, actor=actor, action="accounts.invitation.created", obj=invitation, changes={"email": email, "role": role})
    transaction.on_commit(partial(async_task, "accounts.tasks.invitation_email_send_task", invitation.pk, base_url), robust=True)
    return invitation


@transaction.atomic(durable=True)
def invitation_revoke(*, org: Organization, actor: User, invitation_id: int) -> None:
    invitation = Invitation.objects.for_org(org).filter(accepted_at=None).get(pk=invitation_id)
    audit_log(org=org, actor=actor, action="accounts.invitation.revoked", obj=invitation)
    invitation.delete()


@transaction.atomic(durable=True)
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = Invitation.objects.select_for_update().filter(token=token, accepted_at=None).first()
    if invitation is None:
        raise InvitationInvalid("This invitation is no longer valid.")
    org = invitation.organization
    membership, _ = Membership.objects.get_or_create(organization=org, user=user, defaults={"role": invitation.role})
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_log(org=org, actor=user, action="accounts.membership.created", obj=membership, changes={"role": membership.role})
    return membership


def _ensure_owner_remains(*, org: Organization, membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    owners = Membership.objects.for_org(org).filter(role=Role.OWNER).select_for_update()
    if len(owners) <= 1:
        raise LastOwner("An organization needs at least one owner.", field="role")


@transaction.atomic(durable=True)
def membership_role_change(*, org: Organization, actor: User, membership_id: int, role: str) -> Membership:
    membership = Membership.objects.for_org(org).select_for_update().select_related("user").get(pk=membership_id)
    if role not in Role.values:
        raise ValueError(role)
    if membership.role != role:
        _check_team_rule(org=org, actor=actor, target_role=membership.role, new_role=role)
        if role != Role.OWNER:
            _ensure_owner_remains(org=org, membership=membership)
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_log(org=org, actor=actor, action="accounts.membership.role_changed", obj=membership, changes={"role": [old, role]})
    return membership


@transaction.atomic(durable=True)
def membership_remove(*, org: Organization, actor: User, membership_id: int) -> None:
    membership = Membership.objects.for_org(org).select_for_update().select_related("user").get(pk=membership_id)
    _check_team_rule(org=org, actor=actor, target_role=membership.role)
    _ensure_owner_remains(org=org, membership=membership)
    audit_log(
        org=org, actor=actor, action="accounts.membership.removed", obj=membership, changes={"email": membership.user.email}
    )
    membership.delete()


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_mode_check(*, org: Organization, test: bool) -> None:
    if test and not org.is_sandbox:
        raise KeyModeMismatch(
            "Test keys (cnv_test_…) work only for a sandbox organization: create a live key here, or a test key in your sandbox.",
            field="test",
        )
    if not test and org.is_sandbox:
        raise KeyModeMismatch(
            "A sandbox organization takes test keys (cnv_test_…) only: live keys never see sandbox data.", field="test"
        )


def _api_key_create(
    *,
    org: Organization,
    actor: User | None,
    name: str,
    scopes: list[str],
    test: bool | None = None,
    tier: str = ApiTier.USER,
    app: App | None = None,
    rolled_from: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """``api_key_create`` inside the caller's transaction."""
    test = org.is_sandbox if test is None else test
    _key_mode_check(org=org, test=test)
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise InvalidScopes(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(API_SCOPES)}.", field="scopes")
    if not name.strip():
        raise InvalidScopes("Give the key a name.", field="name")
    if app is not None and app.organization_id != org.pk:
        raise NotFound("The requested app could not be found.")
    secret = f"cnv_{'test' if test else 'live'}_{secrets.token_urlsafe(24)}"
    key = ApiKey.objects.create(
        organization=org,
        name=name.strip(),
        key_hash=api_key_hash(secret),
        display=f"{secret[:13]}…{secret[-4:]}",
        scopes=sorted(set(scopes)),
        is_test=test,
        tier=tier,
        created_by=actor if actor and actor.is_authenticated else None,
        app=app,
        rolled_from=rolled_from,
    )
    changes = {"scopes": key.scopes, "app": app.name if app else None}
    audit_log(org=org, actor=actor, action="accounts.api_key.created", obj=key, changes=changes)
    return key, secret


@transaction.atomic(durable=True)
def api_key_create(
    *,
    org: Organization,
    actor: User | None,
    name: str,
    scopes: list[str],
    test: bool | None = None,
    tier: str = ApiTier.USER,
    app: App | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret value, which is never stored nor shown again.

    Test or live follows the organization (a sandbox takes ``cnv_test_`` keys only, any other organization
    live keys only); asking for the other kind is a ``KEY_MODE_MISMATCH``.
    """
    return _api_key_create(org=org, actor=actor, name=name, scopes=scopes, test=test, tier=tier, app=app)


@transaction.atomic(durable=True)
def api_key_revoke(*, org: Organization, actor: User | None, api_key_id: int) -> ApiKey:
    key = ApiKey.objects.for_org(org).select_for_update().get(pk=api_key_id)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_log(org=org, actor=actor, action="accounts.api_key.revoked", obj=key)
    return key


# --- Developer portal: sandboxes, apps, rolling keys ------------------------------------------------

#: how long a rolled key keeps working, as offered on the apps page
ROLL_GRACE_PERIODS: dict[str, timedelta] = {
    "now": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


@transaction.atomic(durable=True)
def sandbox_create(*, actor: User) -> Organization:
    """A developer's own sandbox organization ("<e-mail name>'s sandbox", unique slug), ``actor`` its owner.

    Empty: ``events.sample_data.sample_data_create`` fills it, in transactions of its own.
    """
    name = f"{actor.email.split('@', 1)[0]}'s sandbox"
    org = Organization.objects.create(name=name, slug=_unique_org_slug(name), is_sandbox=True)
    Membership.objects.create(organization=org, user=actor, role=Role.OWNER)
    audit_log(org=org, actor=actor, action="accounts.organization.created", obj=org, changes={"sandbox": True})
    return org


@transaction.atomic(durable=True)
def app_create(*, org: Organization, actor: User | None, name: str, description: str = "") -> App:
    name = name.strip()
    if not name:
        raise InvalidScopes("Give the app a name.", field="name")
    if App.objects.for_org(org).filter(name__iexact=name).exists():
        raise AppNameTaken(f"An app called “{name}” exists already: choose another name.", field="name")
    app = App.objects.create(
        organization=org,
        name=name,
        description=description.strip(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_log(org=org, actor=actor, action="accounts.app.created", obj=app, changes={"name": name})
    return app


@transaction.atomic(durable=True)
def api_key_roll(*, org: Organization, actor: User | None, api_key_id: int, grace: timedelta) -> tuple[ApiKey, str]:
    """Replace a key by a new one (same name, scopes, tier and app), returned with its secret, shown once.

    The old key keeps working for ``grace`` (``expires_at``; zero: it stops at once), so deployments can switch.
    """
    old = ApiKey.objects.for_org(org).select_for_update(of=("self",)).select_related("app").get(pk=api_key_id)
    now = timezone.now()
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
        raise KeyInactive("This key is revoked or expired already: create a new key instead.")
    if grace < timedelta(0):
        raise ValueError(grace)
    new, secret = _api_key_create(
        org=org,
        actor=actor,
        name=old.name,
        scopes=old.scopes,
        test=old.is_test,
        tier=old.tier,
        app=old.app,
        rolled_from=old,
    )
    expires_at = now + grace
    if old.expires_at is None or expires_at < old.expires_at:
        old.expires_at = expires_at
        old.save(update_fields=["expires_at"])
    audit_log(
        org=org,
        actor=actor,
        action="accounts.api_key.rolled",
        obj=old,
        changes={
            "replaced_by": new.display,
            "expires_at": old.expires_at.isoformat(),
            "grace_seconds": int(grace.total_seconds()),
        },
    )
    return new, secret
