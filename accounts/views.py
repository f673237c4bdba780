"""Organization creation, the team page (members, invitations), invitation acceptance and the audit log."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors, services
from accounts.errors import InvitationInvalid
from accounts.forms import AuditFilterForm, InviteForm, OrganizationForm, RoleForm, role_choices
from accounts.models import Invitation, Membership, Role, User
from accounts.permissions import has_perm, org_view
from events.forms import apply_domain_error
from events.views.common import paginate, query_without_page
from portal.errors import DomainError

logger = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 50


def _org_home(membership: Membership) -> str:
    """Where a member of ``membership.organization`` lands: the dashboard, or the check-in page for door staff."""
    slug = membership.organization.slug
    if has_perm(membership.role, "dashboard.view"):
        return reverse("events:dashboard", args=[slug])
    return reverse("events:checkin-index", args=[slug])


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- Organization ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"“{org.name}” is ready. Create your first event, then invite your team.")
            return redirect("events:dashboard", org.slug)
    return render(request, "accounts/organization_form.html", {"form": form})


# --- Team -----------------------------------------------------------------------------------------


def _allowed_roles(actor: Membership) -> set[str]:
    """Roles the actor may give: only an owner can make someone an owner."""
    return set(Role.values) if actor.role == Role.OWNER else set(Role.values) - {Role.OWNER}


def _rule_error(actor: Membership, *, target: Membership | None = None, new_role: str | None = None) -> str | None:
    """Why ``actor`` may not change ``target`` (or give ``new_role``): the service's rule, for the page's controls."""
    return services.team_rule_error(actor_role=actor.role, target_role=target.role if target else None, new_role=new_role)


def _decorate(members: list[Membership], actor: Membership) -> list[Membership]:
    for m in members:
        m.manageable = _rule_error(actor, target=m) is None
    return members


def _invitation_url(request: HttpRequest, invitation: Invitation) -> str:
    return request.build_absolute_uri(reverse("accounts:invitation-accept", args=[invitation.token]))


def _invitations(request: HttpRequest) -> list[Invitation]:
    invitations = list(selectors.invitation_pending_list(org=request.organization))
    for invitation in invitations:
        invitation.url = _invitation_url(request, invitation)
    return invitations


def _team_context(request: HttpRequest, **extra: object) -> dict:
    actor = request.membership
    context = {
        "nav": "team",
        "members": _decorate(list(selectors.membership_list(org=request.organization)), actor),
        "invitations": _invitations(request),
        "role_choices": role_choices(allowed=_allowed_roles(actor)),
        "invite_form": InviteForm(allowed_roles=_allowed_roles(actor)),
    }
    context.update(extra)
    return context


@org_view("team.manage")
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/team.html", _team_context(request))


@org_view("team.manage")
@require_POST
def member_invite(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = InviteForm(request.POST, allowed_roles=_allowed_roles(request.membership))
    invitation = None
    if form.is_valid():
        try:
            invitation = services.member_invite(
                org=org, actor=request.user, base_url=request.build_absolute_uri("/"), **form.cleaned_data
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            invitation.url = _invitation_url(request, invitation)
    if request.htmx:
        context = {
            "invitations": _invitations(request),
            "invite_form": InviteForm(allowed_roles=_allowed_roles(request.membership)) if invitation else form,
            "new_invitation": invitation,
        }
        return render(request, "accounts/team.html#invitations", context)
    if invitation is None:
        return render(request, "accounts/team.html", _team_context(request, invite_form=form))
    messages.success(request, f"Invitation sent to {invitation.email}. They can also join with this link: {invitation.url}")
    return redirect("accounts:team", org.slug)


def _member_row_answer(
    request: HttpRequest, *, target: Membership, actor: Membership, error: str | None, done: str, notice: str | None = None
) -> HttpResponse:
    """After a change to a member: their row again (HTMX), or back to the team page with a message."""
    if request.htmx:
        context = {
            "m": _decorate([target], actor)[0],
            "row_error": error,
            "row_notice": notice,
            "role_choices": role_choices(allowed=_allowed_roles(actor)),
        }
        return render(request, "accounts/team.html#member-row", context)
    if error:
        messages.error(request, f"{target.user.email}: {error}")
    else:
        messages.success(request, done)
    return redirect("accounts:team", request.organization.slug)


@org_view("team.manage")
def membership_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    """POST a new role; answers the member's row (HTMX) or goes back to the team page."""
    org, actor = request.organization, request.membership
    target = selectors.membership_get(org=org, membership_id=membership_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = RoleForm(request.POST)
    error = notice = None
    if not form.is_valid():
        error = form.errors["role"][0]
    else:
        try:
            target = services.membership_role_change(
                org=org, actor=request.user, membership_id=target.pk, role=form.cleaned_data["role"]
            )
        except DomainError as exc:
            error = exc.message
        else:
            notice = f"Now {target.get_role_display().lower()}."
    if error is None and target.user_id == request.user.pk and not has_perm(target.role, "team.manage"):
        messages.info(
            request, f"You are now {target.get_role_display().lower()} of {org.name}: you can no longer manage the team."
        )
        return _redirect(request, _org_home(target))
    if target.user_id == request.user.pk:
        actor = target  # an owner who made themselves admin now sees the row as an admin
    return _member_row_answer(
        request,
        target=target,
        actor=actor,
        error=error,
        notice=notice,
        done=f"{target.user.email} is now {target.get_role_display().lower()}.",
    )


@org_view("team.manage")
def membership_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    org, actor = request.organization, request.membership
    target = selectors.membership_get(org=org, membership_id=membership_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    error = None
    try:
        services.membership_remove(org=org, actor=request.user, membership_id=target.pk)
    except DomainError as exc:
        error = exc.message
    if error is None and target.user_id == request.user.pk:
        messages.info(request, f"You left {org.name}.")
        return _redirect(request, reverse("home"))
    if request.htmx and error is None:
        return HttpResponse("")  # the row disappears
    return _member_row_answer(
        request, target=target, actor=actor, error=error, done=f"{target.user.email} was removed from {org.name}."
    )


@org_view("team.manage")
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    org = request.organization
    invitation = selectors.invitation_pending_get(org=org, invitation_id=invitation_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.invitation_revoke(org=org, actor=request.user, invitation_id=invitation.pk)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, f"The invitation of {invitation.email} was revoked: its link no longer works.")
    return redirect("accounts:team", org.slug)


# --- Invitation acceptance ------------------------------------------------------------------------


def _invitation_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/invitation_invalid.html", status=404)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_by_token(token=token)
    if invitation is None:
        return _invitation_invalid(request)
    if not request.user.is_authenticated:
        has_account = User.objects.filter(email__iexact=invitation.email).exists()
        target = reverse("account_login" if has_account else "account_signup")
        return redirect(f"{target}?{urlencode({'next': request.path})}")
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except InvitationInvalid:
            return _invitation_invalid(request)
        messages.success(request, f"Welcome to {membership.organization.name}!")
        return redirect(_org_home(membership))
    existing = selectors.membership_of(org=invitation.organization, user=request.user)
    return render(
        request,
        "accounts/invitation_accept.html",
        {
            "invitation": invitation,
            "existing": existing,
            "email_mismatch": invitation.email.lower() != request.user.email.lower(),
        },
    )


# --- Audit log ------------------------------------------------------------------------------------


def _short(value: object, limit: int = 60) -> str:
    if value is None or value == "":
        return "—"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_items(changes: dict | None) -> list[tuple[str, str]]:
    """``{"role": ["viewer", "admin"], "email": "a@b"}`` → ``[("role", "viewer → admin"), ("email", "a@b")]``."""
    items = []
    for key, value in (changes or {}).items():
        if isinstance(value, list) and len(value) == 2:  # the services record [old, new]
            items.append((key, f"{_short(value[0])} → {_short(value[1])}"))
        else:
            items.append((key, _short(value)))
    return items


@org_view("audit.view")
@require_GET
@vary_on_headers("HX-Request")
def audit_log(request: HttpRequest) -> HttpResponse:
    org = request.organization
    members = list(selectors.membership_list(org=org))
    form = AuditFilterForm(request.GET or None, members=members, actions=selectors.audit_action_choices(org=org))
    filters = form.filters()
    page = paginate(request, selectors.audit_entry_list(org=org, **filters), AUDIT_PAGE_SIZE)
    for entry in page:
        entry.change_items = change_items(entry.changes)
    template = "accounts/audit_log.html"
    if request.htmx and not request.htmx.boosted:
        template += "#audit-table"
    return render(
        request,
        template,
        {
            "nav": "audit",
            "page": page,
            "form": form,
            "query": query_without_page(request),
            "filtered": any(filters.values()),
        },
    )
