"""Who may do what in the organizer portal, and the one place that resolves the organization."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from accounts.models import Membership, Role

OWNER, ADMIN, ORGANIZER, CHECKIN, DEVELOPER, VIEWER = (
    Role.OWNER,
    Role.ADMIN,
    Role.ORGANIZER,
    Role.CHECKIN,
    Role.DEVELOPER,
    Role.VIEWER,
)

PERMISSIONS: dict[str, frozenset[str]] = {
    "dashboard.view": frozenset({OWNER, ADMIN, ORGANIZER, DEVELOPER, VIEWER}),
    "events.view": frozenset({OWNER, ADMIN, ORGANIZER, DEVELOPER, VIEWER}),
    "events.edit": frozenset({OWNER, ADMIN, ORGANIZER}),
    "registrations.view": frozenset({OWNER, ADMIN, ORGANIZER, VIEWER}),
    "registrations.edit": frozenset({OWNER, ADMIN, ORGANIZER}),
    "checkin.perform": frozenset({OWNER, ADMIN, ORGANIZER, CHECKIN}),
    "team.manage": frozenset({OWNER, ADMIN}),
    "audit.view": frozenset({OWNER, ADMIN}),
    "apikeys.manage": frozenset({OWNER, ADMIN, DEVELOPER}),
    "webhooks.manage": frozenset({OWNER, ADMIN, DEVELOPER}),
    "payments.edit": frozenset({OWNER, ADMIN, ORGANIZER}),
    "emails.manage": frozenset({OWNER, ADMIN, ORGANIZER}),
    "exports.create": frozenset({OWNER, ADMIN, ORGANIZER}),
    "sso.manage": frozenset({OWNER, ADMIN}),
}


def has_perm(role: str | None, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def org_view(permission: str) -> Callable:
    """Resolve ``org_slug`` to the caller's organization and check the member's role.

    Not a member (or no such organization): 404, exactly like a missing page. A member whose role
    lacks ``permission``: 403. The view gets ``request.organization`` and ``request.membership``.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = (
                Membership.objects.select_related("organization").filter(user=request.user, organization__slug=org_slug).first()
            )
            if membership is None:
                raise Http404("No such organization")
            if not has_perm(membership.role, permission):
                raise PermissionDenied("Your role does not allow this.")
            request.organization = membership.organization
            request.membership = membership
            return view(request, *args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator
