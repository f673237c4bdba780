from __future__ import annotations

import secrets

from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.errors import AlreadyMember, InvitationInvalid, LastOwner
from accounts.models import AuditEntry, Invitation, Membership, Organization, Role, User


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
        actor_label=actor_label or (actor.email if actor is not None and actor.is_authenticated else "public"),
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
    org = Organization.objects.create(name=name.strip(), slug=slug or _unique_org_slug(name))
    Membership.objects.create(organization=org, user=actor, role=Role.OWNER)
    audit_log(org=org, actor=actor, action="accounts.organization.created", obj=org)
    return org


@transaction.atomic(durable=True)
def member_invite(*, org: Organization, actor: User, email: str, role: str) -> Invitation:
    email = email.strip().lower()
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
    _ensure_owner_remains(org=org, membership=membership)
    audit_log(
        org=org, actor=actor, action="accounts.membership.removed", obj=membership, changes={"email": membership.user.email}
    )
    membership.delete()
