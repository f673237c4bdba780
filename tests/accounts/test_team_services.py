"""The team rules hold in the services themselves, whatever interface calls them."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.errors import LastOwner, OwnerOnly, SlugTaken
from accounts.models import AuditEntry, Membership, Organization, Role
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


def membership(org, user) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def test_an_admin_cannot_make_an_owner_nor_touch_one(org):
    owner, admin, viewer = make_member(org, Role.OWNER), make_member(org, Role.ADMIN), make_member(org, Role.VIEWER)

    with pytest.raises(OwnerOnly):
        services.membership_role_change(org=org, actor=admin, membership_id=membership(org, viewer).pk, role=Role.OWNER)
    with pytest.raises(OwnerOnly):
        services.membership_role_change(org=org, actor=admin, membership_id=membership(org, owner).pk, role=Role.VIEWER)
    with pytest.raises(OwnerOnly):
        services.membership_remove(org=org, actor=admin, membership_id=membership(org, owner).pk)
    with pytest.raises(OwnerOnly):
        services.member_invite(org=org, actor=admin, email="boss@example.com", role=Role.OWNER)

    assert sorted(Membership.objects.for_org(org).values_list("role", flat=True)) == ["admin", "owner", "viewer"]
    assert org.invitations.count() == 0


def test_an_owner_can_promote_and_the_last_owner_stays(org):
    owner, admin = make_member(org, Role.OWNER), make_member(org, Role.ADMIN)

    services.membership_role_change(org=org, actor=owner, membership_id=membership(org, admin).pk, role=Role.OWNER)
    services.membership_role_change(org=org, actor=admin, membership_id=membership(org, owner).pk, role=Role.ADMIN)
    with pytest.raises(LastOwner):
        services.membership_remove(org=org, actor=admin, membership_id=membership(org, admin).pk)

    assert membership(org, admin).role == Role.OWNER
    assert membership(org, owner).role == Role.ADMIN
    changed = AuditEntry.objects.for_org(org).filter(action="accounts.membership.role_changed")
    assert [e.changes for e in changed.order_by("id")] == [{"role": ["admin", "owner"]}, {"role": ["owner", "admin"]}]


def test_organization_create_refuses_a_taken_address_beside_the_field(db):
    Organization.objects.create(name="Taken", slug="taken")

    with pytest.raises(SlugTaken) as exc:
        services.organization_create(actor=make_user(), name="Another", slug="taken")

    assert exc.value.field == "slug"
    assert Organization.objects.filter(slug="taken").count() == 1


def test_organization_create_derives_a_free_address_and_makes_the_creator_owner(db):
    Organization.objects.create(name="Acme", slug="acme")
    user = make_user()

    org = services.organization_create(actor=user, name="Acme")

    assert org.slug == "acme-2"
    assert membership(org, user).role == Role.OWNER
