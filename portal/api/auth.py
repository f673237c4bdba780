"""API credentials: who is calling (organization, scopes, tier). Resolved once per request by ApiMiddleware."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from accounts.models import ApiKey, Organization
from accounts.services import api_key_hash
from portal.errors import PermissionDenied

LAST_USED_PRECISION = timedelta(minutes=1)  # write last_used_at at most once a minute per key


@dataclass(frozen=True)
class Principal:
    organization: Organization
    scopes: frozenset[str]
    tier: str
    credential_id: str
    is_test: bool = False
    api_key: ApiKey | None = field(default=None, compare=False)


def principal_from_bearer(token: str) -> Principal | None:
    """The principal of an API key, or None when the key is unknown or revoked."""
    if not token.startswith(("cnv_live_", "cnv_test_")):
        return None
    key = ApiKey.objects.select_related("organization").filter(key_hash=api_key_hash(token), revoked_at=None).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Principal(
        organization=key.organization,
        scopes=frozenset(key.scopes),
        tier=key.tier,
        credential_id=f"key:{key.key_hash[:16]}",
        is_test=key.is_test,
        api_key=key,
    )


class BearerAuth(HttpBearer):
    """Reads the principal ApiMiddleware resolved; declares bearer auth in the OpenAPI document."""

    openapi_description = "An API key (`cnv_live_…` / `cnv_test_…`) as `Authorization: Bearer <key>`."

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return getattr(request, "principal", None)


class InsufficientScope(PermissionDenied):
    code = "INSUFFICIENT_SCOPE"


def require_scope(request: HttpRequest, scope: str) -> Principal:
    """The caller's principal, provided its credential carries ``scope`` (403 INSUFFICIENT_SCOPE otherwise)."""
    principal: Principal = request.auth
    if scope not in principal.scopes:
        raise InsufficientScope(f"This credential lacks the scope '{scope}'.", required_scope=scope)
    return principal
