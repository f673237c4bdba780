"""/api/v1/users: the organization's members and their roles, and the calling credential itself."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from accounts import selectors, services
from accounts.models import Membership, Role, User
from portal.api import ErrorOut
from portal.api.auth import Principal, require_scope, scoped
from portal.api.errors import READ_ERRORS, WRITE_ERRORS, api_names
from portal.api.pagination import Pagination, paginate, sort_order
from portal.api.schemas import Body
from portal.errors import NotFound

router = Router(tags=["users"])

SORT_FIELDS = {"joinedAt": "created_at", "email": "user__email", "name": "user__name", "role": "role", "id": "user_id"}

MEMBER_EXAMPLE = {
    "id": 7,
    "email": "grace@example.com",
    "name": "Grace Hopper",
    "role": "organizer",
    "joinedAt": "2025-04-22T14:30:15.000Z",
    "links": {"self": "/api/v1/users/7"},
}


# --- Schemas --------------------------------------------------------------------------------------


class MemberOut(Schema):
    model_config = {"json_schema_extra": {"examples": [MEMBER_EXAMPLE]}}

    id: int = Field(..., description="The user's id.")
    email: str
    name: str
    role: Role
    joinedAt: datetime
    links: dict[str, str] = Field(..., description="`self`.")


class MemberList(Schema):
    data: list[MemberOut]
    pagination: Pagination


class MemberPatch(Body):
    model_config = {"json_schema_extra": {"examples": [{"role": "admin"}]}}

    role: Role = Field(..., description="Only an owner may make someone an owner or change another owner.")


class OrganizationRef(Schema):
    id: int
    name: str
    slug: str
    sandbox: bool


class CreatorOut(Schema):
    id: int
    email: str
    name: str
    role: Role | None = Field(..., description="Empty when the user is no longer a member.")
    links: dict[str, str]


class CredentialOut(Schema):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "organization": {"id": 3, "name": "Acme", "slug": "acme", "sandbox": False},
                    "name": "CRM sync",
                    "key": "cnv_live_AbCd…wxyz",
                    "mode": "live",
                    "scopes": ["events:read", "registrations:read"],
                    "tier": "user",
                    "createdAt": "2025-04-01T09:00:00.000Z",
                    "createdBy": {**MEMBER_EXAMPLE, "joinedAt": None},
                    "links": {"self": "/api/v1/users/me"},
                }
            ]
        }
    }

    organization: OrganizationRef
    name: str = Field(..., description="The API key's name.")
    key: str | None = Field(..., description="The key's prefix and last characters, to recognise it.")
    mode: str = Field(..., description="`live`, or `test` for a `cnv_test_` key.")
    scopes: list[str]
    tier: str = Field(..., description="The rate-limit tier.")
    createdAt: datetime | None
    createdBy: CreatorOut | None = Field(..., description="The user who created the key, when the key records one.")
    links: dict[str, str]


# --- Helpers --------------------------------------------------------------------------------------


def _user_url(user_id: int) -> str:
    return f"/api/v1/users/{user_id}"


def member_data(membership: Membership) -> dict:
    user = membership.user
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name or user.get_full_name(),
        "role": membership.role,
        "joinedAt": membership.created_at,
        "links": {"self": _user_url(user.pk)},
    }


def _member_get(org, user_id: int) -> Membership:
    """The membership of ``user_id`` in ``org``; a non-member answers 404 like a missing user."""
    membership = selectors.membership_list(org=org).filter(user_id=user_id).first()
    if membership is None:
        raise NotFound("The requested user could not be found.")
    return membership


def _key_actor(principal: Principal) -> User | None:
    """A key acts with the rights of the user who created it (owner rules apply); a key nobody made acts as the system."""
    return principal.api_key.created_by if principal.api_key is not None else None


def _creator_data(principal: Principal, user: User) -> dict:
    membership = selectors.membership_of(org=principal.organization, user=user)
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name or user.get_full_name(),
        "role": membership.role if membership else None,
        "links": {"self": _user_url(user.pk)} if membership else {},
    }


# --- Endpoints ------------------------------------------------------------------------------------


@router.get(
    "/me",
    response={200: CredentialOut, READ_ERRORS: ErrorOut},
    summary="Who is calling",
    description="The calling credential as the API sees it: its organization, name, scopes, `live` or `test` mode, "
    "rate-limit tier and the user who created it (when the key records one). Needs no scope.",
)
def user_me(request: HttpRequest):
    principal: Principal = request.auth
    org, key = principal.organization, principal.api_key
    creator = key.created_by if key is not None else None
    return {
        "organization": {"id": org.pk, "name": org.name, "slug": org.slug, "sandbox": org.is_sandbox},
        "name": key.name if key is not None else "",
        "key": key.display if key is not None else None,
        "mode": "test" if principal.is_test else "live",
        "scopes": sorted(principal.scopes),
        "tier": principal.tier,
        "createdAt": key.created_at if key is not None else None,
        "createdBy": _creator_data(principal, creator) if creator is not None else None,
        "links": {"self": "/api/v1/users/me"},
    }


@router.get(
    "",
    auth=scoped("users:read"),
    response={200: MemberList, READ_ERRORS: ErrorOut},
    summary="List members",
    description="The organization's members with their roles. Filter with `role` and `q` (e-mail or name); sort "
    "with `sort=joinedAt` (default), `email`, `name`, `role` (prefix `-` to reverse); page with `page`+`pageSize` "
    "or `limit`+`offset`. Needs `users:read`.",
)
def user_list(
    request: HttpRequest,
    response: HttpResponse,
    role: Role | None = None,
    q: str = "",
    sort: str = "joinedAt",
):
    principal = require_scope(request, "users:read")
    qs = selectors.membership_list(org=principal.organization)
    if role is not None:
        qs = qs.filter(role=role)
    if q.strip():
        qs = qs.filter(Q(user__email__icontains=q.strip()) | Q(user__name__icontains=q.strip()))
    return paginate(request, response, qs.order_by(*sort_order(sort, SORT_FIELDS)), member_data)


@router.get(
    "/{int:user_id}",
    auth=scoped("users:read"),
    response={200: MemberOut, READ_ERRORS: ErrorOut},
    summary="Get a member",
    description="A member of the caller's organization by user id; anyone else answers 404. Needs `users:read`.",
)
def user_detail(request: HttpRequest, user_id: int):
    principal = require_scope(request, "users:read")
    return member_data(_member_get(principal.organization, user_id))


@router.patch(
    "/{int:user_id}",
    auth=scoped("users:write"),
    response={200: MemberOut, WRITE_ERRORS: ErrorOut},
    summary="Change a member's role",
    description="Give the member another `role`. The key acts with the rights of the user who created it: only an "
    "owner may make someone an owner or change another owner (403 `OWNER_ONLY`); the last owner cannot step down "
    "(409 `LAST_OWNER`). Needs `users:write`.",
)
def user_update(request: HttpRequest, user_id: int, payload: MemberPatch):
    principal = require_scope(request, "users:write")
    org = principal.organization
    membership = _member_get(org, user_id)
    with api_names({"role": "role"}):
        services.membership_role_change(org=org, actor=_key_actor(principal), membership_id=membership.pk, role=payload.role)
    return member_data(_member_get(org, user_id))
