"""The team page: members, roles, invitations; plus organization creation and invitation acceptance."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services
from accounts.models import AuditEntry, Invitation, Membership, Organization, Role
from tests.conftest import logged_in_client
from tests.factories import make_member, make_org, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _membership(org, user) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def _invite(org, actor, email="new@example.com", role=Role.VIEWER) -> Invitation:
    return services.member_invite(org=org, actor=actor, email=email, role=role)


# --- Team page ------------------------------------------------------------------------------------


def test_team_page_lists_members_with_role_and_pending_invitations(org, member):
    owner = member(Role.OWNER)
    make_member(org, Role.ORGANIZER, email="olga@example.com")
    invitation = _invite(org, owner, email="pending@example.com", role=Role.ADMIN)
    client = logged_in_client(owner)

    response = client.get(reverse("accounts:team", args=[org.slug]))

    assert response.status_code == 200
    members = [m.user.email for m in response.context["members"]]
    assert members == [owner.email, "olga@example.com"]
    html = response.content.decode()
    assert "olga@example.com" in html
    assert '<option value="organizer" selected>Organizer</option>' in html
    assert "pending@example.com" in html
    assert f"http://testserver/invitations/{invitation.token}/" in html


def test_an_admin_sees_owners_without_role_controls_and_cannot_offer_the_owner_role(org, member):
    owner = member(Role.OWNER)
    client = logged_in_client(member(Role.ADMIN))

    response = client.get(reverse("accounts:team", args=[org.slug]))

    html = response.content.decode()
    owner_row = html[html.index(f'<tr id="member-{_membership(org, owner).pk}">') :].split("</tr>")[0]
    assert '<span class="badge badge-role" data-testid="role-badge">Owner</span>' in owner_row
    assert "<select" not in owner_row
    assert "Remove" not in owner_row
    assert [value for value, _label in response.context["role_choices"]] == [
        "admin",
        "organizer",
        "checkin",
        "developer",
        "viewer",
    ]


def test_team_page_is_forbidden_to_a_viewer(org, member):
    client = logged_in_client(member(Role.VIEWER))

    response = client.get(reverse("accounts:team", args=[org.slug]))

    assert response.status_code == 403


def test_team_page_query_count_does_not_grow_with_members(org, member):
    owner = member(Role.OWNER)
    client = logged_in_client(owner)
    url = reverse("accounts:team", args=[org.slug])
    _invite(org, owner, email="one@example.com")
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(2):
        make_member(org, Role.ORGANIZER)
        _invite(org, owner, email=f"more{i}@example.com")

    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert len(response.context["members"]) == 3
    assert len(response.context["invitations"]) == 3
    assert len(many) == len(few)


# --- Invitations ----------------------------------------------------------------------------------


def test_member_invite_creates_invitation_and_mails_the_link_after_commit(
    org, member, mailoutbox, django_capture_on_commit_callbacks
):
    owner = member(Role.OWNER)
    client = logged_in_client(owner)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("accounts:member-invite", args=[org.slug]), {"email": "Ann@Example.com", "role": Role.ORGANIZER}
        )

    invitation = Invitation.objects.get(organization=org)
    link = f"http://testserver/invitations/{invitation.token}/"
    assert response.status_code == 302
    assert (invitation.email, invitation.role, invitation.invited_by) == ("ann@example.com", Role.ORGANIZER, owner)
    assert len(callbacks) == 1
    assert [m.to for m in mailoutbox] == [["ann@example.com"]]
    assert link in mailoutbox[0].body
    assert mailoutbox[0].subject == f"You're invited to join {org.name} on Convene"


def test_member_invite_with_htmx_shows_the_link_to_copy(org, member, django_capture_on_commit_callbacks):
    client = logged_in_client(member(Role.OWNER))

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("accounts:member-invite", args=[org.slug]), {"email": "bo@example.com", "role": Role.VIEWER}, **HTMX
        )

    invitation = Invitation.objects.get(organization=org)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="new-invitation-link"' in html
    assert f'value="http://testserver/invitations/{invitation.token}/"' in html
    assert "<html" not in html


def test_member_invite_of_an_existing_member_shows_the_error_beside_the_email(org, member):
    client = logged_in_client(member(Role.OWNER))
    make_member(org, Role.VIEWER, email="taken@example.com")

    response = client.post(
        reverse("accounts:member-invite", args=[org.slug]), {"email": "taken@example.com", "role": Role.VIEWER}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert '<div class="field has-error" id="field-email">' in html
    assert "<li>taken@example.com is already a member of this organization.</li>" in html
    assert Invitation.objects.filter(organization=org).count() == 0


def test_member_invite_as_owner_is_refused_to_an_admin(org, member):
    client = logged_in_client(member(Role.ADMIN))

    response = client.post(reverse("accounts:member-invite", args=[org.slug]), {"email": "boss@example.com", "role": Role.OWNER})

    assert response.status_code == 200
    assert response.context["invite_form"].errors == {"role": ["You cannot give this role."]}
    assert Invitation.objects.filter(organization=org).count() == 0


def test_invitation_revoke_deletes_the_pending_invitation(org, member):
    owner = member(Role.OWNER)
    invitation = _invite(org, owner)
    client = logged_in_client(owner)

    response = client.post(reverse("accounts:invitation-revoke", args=[org.slug, invitation.pk]), **HTMX)

    assert response.status_code == 200
    assert response.content == b""
    assert Invitation.objects.filter(pk=invitation.pk).exists() is False
    assert AuditEntry.objects.filter(organization=org, action="accounts.invitation.revoked").count() == 1


def test_get_on_a_post_only_team_url_answers_405(org, member):
    owner = member(Role.OWNER)
    client = logged_in_client(owner)

    response = client.get(reverse("accounts:membership-remove", args=[org.slug, _membership(org, owner).pk]))

    assert response.status_code == 405
    assert Membership.objects.filter(user=owner).count() == 1


# --- Roles and removal ----------------------------------------------------------------------------


def test_role_change_with_htmx_rerenders_the_row_with_the_new_role(org, member):
    owner = member(Role.OWNER)
    target = _membership(org, make_member(org, Role.VIEWER))
    client = logged_in_client(owner)

    response = client.post(reverse("accounts:membership-role", args=[org.slug, target.pk]), {"role": Role.ORGANIZER}, **HTMX)

    target.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert target.role == Role.ORGANIZER
    assert html.lstrip().startswith(f'<tr id="member-{target.pk}">')
    assert '<option value="organizer" selected>Organizer</option>' in html
    assert "✓ Now organizer." in html


def test_role_change_of_the_last_owner_shows_the_last_owner_message(org, member):
    owner = member(Role.OWNER)
    client = logged_in_client(owner)
    own = _membership(org, owner)

    response = client.post(reverse("accounts:membership-role", args=[org.slug, own.pk]), {"role": Role.ADMIN}, **HTMX)

    own.refresh_from_db()
    assert response.status_code == 200
    assert own.role == Role.OWNER
    assert (
        '<ul class="errorlist" role="alert"><li>An organization needs at least one owner.</li></ul>' in response.content.decode()
    )


def test_the_last_owner_cannot_remove_themselves(org, member):
    owner = member(Role.OWNER)
    client = logged_in_client(owner)
    own = _membership(org, owner)

    response = client.post(reverse("accounts:membership-remove", args=[org.slug, own.pk]))

    assert response.status_code == 302
    assert Membership.objects.filter(pk=own.pk).exists() is True
    assert [str(m) for m in response.wsgi_request._messages] == [f"{owner.email}: An organization needs at least one owner."]


def test_an_owner_can_leave_when_another_owner_remains(org, member):
    owner = member(Role.OWNER)
    member(Role.OWNER)
    client = logged_in_client(owner)
    own = _membership(org, owner)

    response = client.post(reverse("accounts:membership-remove", args=[org.slug, own.pk]), **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("home")
    assert Membership.objects.filter(pk=own.pk).exists() is False


def test_member_remove_with_htmx_removes_the_row(org, member):
    client = logged_in_client(member(Role.ADMIN))
    target = _membership(org, make_member(org, Role.ORGANIZER))

    response = client.post(reverse("accounts:membership-remove", args=[org.slug, target.pk]), **HTMX)

    assert response.status_code == 200
    assert response.content == b""
    assert Membership.objects.filter(pk=target.pk).exists() is False
    assert AuditEntry.objects.filter(organization=org, action="accounts.membership.removed").count() == 1


@pytest.mark.parametrize(
    ("target_role", "new_role", "message"),
    [
        (Role.VIEWER, Role.OWNER, "Only an owner can make someone an owner."),
        (Role.OWNER, Role.ADMIN, "Only an owner can change or remove another owner."),
    ],
)
def test_an_admin_cannot_give_or_change_the_owner_role(org, member, target_role, new_role, message):
    member(Role.OWNER)
    client = logged_in_client(member(Role.ADMIN))
    target = _membership(org, make_member(org, target_role))

    response = client.post(reverse("accounts:membership-role", args=[org.slug, target.pk]), {"role": new_role}, **HTMX)

    target.refresh_from_db()
    assert target.role == target_role
    assert f'<ul class="errorlist" role="alert"><li>{message}</li></ul>' in response.content.decode()


def test_an_admin_cannot_remove_an_owner(org, member):
    owner = member(Role.OWNER)
    member(Role.OWNER)
    client = logged_in_client(member(Role.ADMIN))

    response = client.post(reverse("accounts:membership-remove", args=[org.slug, _membership(org, owner).pk]), **HTMX)

    assert "<li>Only an owner can change or remove another owner.</li>" in response.content.decode()
    assert Membership.objects.filter(user=owner, organization=org).exists() is True


def test_demoting_yourself_out_of_team_management_sends_you_home(org, member):
    member(Role.OWNER)
    admin = member(Role.ADMIN)
    client = logged_in_client(admin)

    response = client.post(
        reverse("accounts:membership-role", args=[org.slug, _membership(org, admin).pk]), {"role": Role.VIEWER}, **HTMX
    )

    assert response["HX-Redirect"] == reverse("events:dashboard", args=[org.slug])
    assert _membership(org, admin).role == Role.VIEWER


@pytest.mark.parametrize(
    ("name", "kwarg"),
    [
        ("accounts:membership-role", "membership_id"),
        ("accounts:membership-remove", "membership_id"),
        ("accounts:invitation-revoke", "invitation_id"),
    ],
)
def test_another_organizations_ids_on_team_urls_answer_404(org, member, other_org, name, kwarg):
    client = logged_in_client(member(Role.OWNER))
    other_owner = Membership.objects.filter(organization=other_org).first()
    other_invitation = _invite(other_org, other_owner.user, email="x@globex.test")
    ids = {"membership_id": other_owner.pk, "invitation_id": other_invitation.pk}

    response = client.post(reverse(name, kwargs={"org_slug": org.slug, kwarg: ids[kwarg]}), {"role": Role.VIEWER})

    assert response.status_code == 404
    assert Membership.objects.filter(pk=other_owner.pk, role=Role.OWNER).exists() is True
    assert Invitation.objects.filter(pk=other_invitation.pk).exists() is True


# --- Invitation acceptance ------------------------------------------------------------------------


def test_invitation_accept_sends_a_new_person_to_signup_with_next(org, member):
    invitation = _invite(org, member(Role.OWNER), email="fresh@example.com")
    url = reverse("accounts:invitation-accept", args=[invitation.token])

    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_signup')}?next={url.replace('/', '%2F')}"


def test_invitation_accept_sends_a_known_person_to_login_with_next(org, member):
    make_user("known@example.com")
    invitation = _invite(org, member(Role.OWNER), email="known@example.com")
    url = reverse("accounts:invitation-accept", args=[invitation.token])

    response = Client().get(url)

    assert response["Location"].startswith(f"{reverse('account_login')}?next=")


def test_invitation_accept_page_asks_to_join_the_organization(org, member):
    invitation = _invite(org, member(Role.OWNER), email="joiner@example.com", role=Role.ORGANIZER)
    client = logged_in_client(make_user("joiner@example.com"))

    response = client.get(reverse("accounts:invitation-accept", args=[invitation.token]))

    assert response.status_code == 200
    assert f"Join {org.name} as organizer?" in response.content.decode()


def test_invitation_accept_post_makes_a_member_and_lands_on_the_organization(org, member):
    invitation = _invite(org, member(Role.OWNER), email="joiner@example.com", role=Role.ORGANIZER)
    user = make_user("joiner@example.com")
    client = logged_in_client(user)

    response = client.post(reverse("accounts:invitation-accept", args=[invitation.token]))

    assert response.status_code == 302
    assert response["Location"] == reverse("events:dashboard", args=[org.slug])
    assert _membership(org, user).role == Role.ORGANIZER
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_door_staff_accepting_an_invitation_lands_on_checkin(org, member):
    invitation = _invite(org, member(Role.OWNER), email="door@example.com", role=Role.CHECKIN)
    client = logged_in_client(make_user("door@example.com"))

    response = client.post(reverse("accounts:invitation-accept", args=[invitation.token]))

    assert response["Location"] == reverse("events:checkin-index", args=[org.slug])


@pytest.mark.parametrize("used", [True, False])
def test_a_used_or_unknown_invitation_answers_a_clear_404(org, member, used):
    invitation = _invite(org, member(Role.OWNER), email="joiner@example.com")
    if used:
        services.invitation_accept(token=invitation.token, user=make_user("joiner@example.com"))
    token = invitation.token if used else "no-such-token"
    client = logged_in_client(make_user())

    response = client.get(reverse("accounts:invitation-accept", args=[token]))

    assert response.status_code == 404
    assert "This invitation is not valid" in response.content.decode()


# --- Organization creation ------------------------------------------------------------------------


def test_organization_create_makes_the_user_its_owner_and_opens_its_dashboard(db):
    user = make_user()
    client = logged_in_client(user)

    response = client.post(reverse("accounts:organization-create"), {"name": "Nordic Events", "slug": ""})

    org = Organization.objects.get(name="Nordic Events")
    assert org.slug == "nordic-events"
    assert response.status_code == 302
    assert response["Location"] == reverse("events:dashboard", args=["nordic-events"])
    assert _membership(org, user).role == Role.OWNER


@pytest.mark.parametrize(
    ("slug", "error"),
    [
        ("taken", "This address is already taken: choose another one."),
        ("Not a slug!", "Use only lowercase letters, digits and hyphens."),
    ],
)
def test_organization_create_shows_slug_errors_beside_the_field(db, slug, error):
    make_org("Existing", slug="taken")
    client = logged_in_client(make_user())

    response = client.post(reverse("accounts:organization-create"), {"name": "Mine", "slug": slug})

    assert response.status_code == 200
    assert response.context["form"].errors == {"slug": [error]}
    assert Organization.objects.filter(name="Mine").exists() is False
    assert 'id="field-slug"' in response.content.decode()


def test_organization_create_needs_a_login(db):
    response = Client().get(reverse("accounts:organization-create"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
