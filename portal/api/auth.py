"""API credentials: who is calling (organization, scopes, tier). Resolved once per request by ApiMiddleware."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from accounts.models import ApiKey, Organization
from accounts.services import api_key_hash
from portal.errors import PermissionDenied

LAST_USED_PRECISION = timedelta(minutes=1)  # write last_used_at at most once a minute per key
#: A worker remembers a key's principal (or that the key is unknown) this long. A key saved or deleted in this
#: process is forgotten at once; a revocation made by another worker takes effect here within this time.
KEY_CACHE_SECONDS = 5.0
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Principal:
    organization: Organization
    scopes: frozenset[str]
    tier: str
    credential_id: str
    is_test: bool = False
    api_key: ApiKey | None = field(default=None, compare=False)


_known: dict[str, tuple[float, Principal | None]] = {}  # key hash → (valid until, principal or None)
_known_lock = threading.Lock()


def _principal_load(key_hash: str) -> Principal | None:
    key = ApiKey.objects.select_related("organization").filter(key_hash=key_hash, revoked_at=None).first()
    if key is None:
        return None
    return Principal(
        organization=key.organization,
        scopes=frozenset(key.scopes),
        tier=key.tier,
        credential_id=f"key:{key.key_hash[:16]}",
        is_test=key.is_test,
        api_key=key,
    )


def principal_from_bearer(token: str) -> Principal | None:
    """The principal of an API key, or None when the key is unknown or revoked (remembered briefly, see
    ``KEY_CACHE_SECONDS``). Writes the key's ``last_used_at`` at most once a minute."""
    if not token.startswith(("cnv_live_", "cnv_test_")):
        return None
    key_hash = api_key_hash(token)
    now = time.monotonic()
    cached = _known.get(key_hash)
    if cached is not None and cached[0] > now:
        principal = cached[1]
    else:
        principal = _principal_load(key_hash)
        with _known_lock:
            if len(_known) >= KEY_CACHE_SIZE:
                _known.clear()
            _known[key_hash] = (now + KEY_CACHE_SECONDS, principal)
    if principal is not None:
        key = principal.api_key
        used = timezone.now()
        if key.last_used_at is None or used - key.last_used_at > LAST_USED_PRECISION:
            key.last_used_at = used
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=used)
    return principal


def api_keys_forget(*key_hashes: str) -> None:
    """Forget what this worker remembers of these keys (of every key when none is given)."""
    with _known_lock:
        if not key_hashes:
            _known.clear()
        for key_hash in key_hashes:
            _known.pop(key_hash, None)


@receiver(post_save, sender=ApiKey, dispatch_uid="api-key-forget-on-save")
@receiver(post_delete, sender=ApiKey, dispatch_uid="api-key-forget-on-delete")
def _api_key_changed(sender: type, instance: ApiKey, **kwargs: object) -> None:
    # now, and again once the change is committed (a request in between may have read the old row)
    api_keys_forget(instance.key_hash)
    transaction.on_commit(lambda: api_keys_forget(instance.key_hash))


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
