"""API credentials: who is calling (organization, scopes, tier). Resolved once per request by ApiMiddleware."""

from __future__ import annotations

import ipaddress
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
    if key is None or key.is_test != key.organization.is_sandbox:
        return None  # unknown, revoked, or a test key outside a sandbox / a live key inside one
    return Principal(
        organization=key.organization,
        scopes=frozenset(key.scopes),
        tier=key.tier,
        credential_id=f"key:{key.key_hash[:16]}",
        is_test=key.is_test,
        api_key=key,
    )


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:  # e.g. a Unix socket's peer: no address to record
        return None


def principal_from_bearer(token: str, *, ip: str | None = None) -> Principal | None:
    """The principal of an API key, or None when the key is unknown, revoked, expired (a rolled key after its
    grace period) or of the wrong mode for its organization (remembered briefly, see ``KEY_CACHE_SECONDS``).
    Writes the key's ``last_used_at`` (and ``last_used_ip``, the caller's address) at most once a minute, or
    when the address changes."""
    if not token.startswith(("cnv_live_", "cnv_test_")):
        if token.startswith("eyJ"):  # an OAuth access token (a JWT): see portal/oauth/tokens.py
            from portal.oauth.tokens import looks_like_jwt, principal_from_access_token  # here: it imports this module

            return principal_from_access_token(token) if looks_like_jwt(token) else None
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
        if key.expires_at is not None and key.expires_at <= used:
            return None
        ip = _valid_ip(ip)
        stale = key.last_used_at is None or used - key.last_used_at > LAST_USED_PRECISION
        if stale or (ip and ip != key.last_used_ip):
            key.last_used_at, key.last_used_ip = used, ip or key.last_used_ip
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=used, last_used_ip=key.last_used_ip)
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

    openapi_description = (
        "An API key (`cnv_live_…` / `cnv_test_…`) or an OAuth 2.0 access token (a JWT from `/oauth/token/`) as "
        "`Authorization: Bearer <credential>`."
    )

    def __init__(self, scope: str | None = None) -> None:
        super().__init__()
        #: the scope the operation needs; checked here, before the request's parameters and body are read,
        #: so a credential without it gets 403 INSUFFICIENT_SCOPE whatever it sent
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        principal: Principal | None = getattr(request, "principal", None)
        if principal is not None and self.scope is not None and self.scope not in principal.scopes:
            raise InsufficientScope(f"This credential lacks the scope '{self.scope}'.", required_scope=self.scope)
        return principal


def scoped(scope: str) -> BearerAuth:
    """``auth=scoped("events:read")`` on an operation: a bearer credential carrying that scope."""
    return BearerAuth(scope)


class InsufficientScope(PermissionDenied):
    code = "INSUFFICIENT_SCOPE"


def require_scope(request: HttpRequest, scope: str) -> Principal:
    """The caller's principal, provided its credential carries ``scope`` (403 INSUFFICIENT_SCOPE otherwise)."""
    principal: Principal = request.auth
    if scope not in principal.scopes:
        raise InsufficientScope(f"This credential lacks the scope '{scope}'.", required_scope=scope)
    return principal
