from __future__ import annotations

from django.http import HttpRequest

from accounts.models import Membership
from accounts.permissions import PERMISSIONS, has_perm


class _Can:
    """``{% if can.events_edit %}`` in templates: the current member's permissions."""

    def __init__(self, role: str | None) -> None:
        self._role = role

    def __getattr__(self, name: str) -> bool:
        return has_perm(self._role, name.replace("_", ".", 1)) if name.replace("_", ".", 1) in PERMISSIONS else False


def organizations(request: HttpRequest) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "my_memberships": Membership.objects.filter(user=request.user)
        .select_related("organization")
        .order_by("organization__name"),
        "current_org": getattr(request, "organization", None),
        "current_membership": membership,
        "can": _Can(membership.role if membership else None),
    }
