"""Everything every /api/v1 response carries: correlation id, credential, rate limit, version, one error shape."""

from __future__ import annotations

import hashlib
import math
import re
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from accounts.services import audit_actor_label
from portal.api.auth import principal_from_bearer
from portal.api.errors import error_response, is_error_envelope
from portal.api.idempotency import idempotent
from portal.usage import usage_record

API_PREFIX = "/api/v1"
API_VERSION = "1.0"
#: requests per minute, and at most this many in any one second
TIERS: dict[str, tuple[int, int]] = {
    "anonymous": (30, 10),
    "user": (60, 20),
    "partner": (300, 100),
    "internal": (600, 200),
}
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_VERSION = re.compile(r"^1(\.\d{1,3})?$")


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset: int  # seconds until the window starts again
    retry_after: int | None  # set when the request is refused


def _hit(key: str, ttl: int) -> int:
    """Count one request in a shared counter; returns the new count."""
    if cache.add(key, 1, ttl):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, ttl)
        return 1


def _redis():
    """The Redis client behind the cache, when the cache is django-redis (None otherwise)."""
    client = getattr(cache, "client", None)
    return client.get_client(write=True) if client is not None and hasattr(client, "get_client") else None


def _hits(counters: list[tuple[str, int]]) -> list[int]:
    """Count one request in each (key, ttl) counter. On Redis: INCR and EXPIRE for all of them in one pipelined
    round trip (the keys name their time window, so pushing the expiry on each hit is harmless)."""
    redis = _redis()
    if redis is None:
        return [_hit(key, ttl) for key, ttl in counters]
    pipe = redis.pipeline(transaction=False)
    for key, ttl in counters:
        full = cache.make_key(key)
        pipe.incr(full)
        pipe.expire(full, ttl)
    return pipe.execute()[::2]


def rate_limit_hit(*, ident: str, tier: str, now: float | None = None) -> RateLimit:
    per_minute, per_second = TIERS[tier]
    scale = settings.API_RATE_LIMIT_SCALE  # 1, except in the API benchmark
    per_minute, per_second = per_minute * scale, per_second * scale
    now = time.time() if now is None else now
    window = int(now // 60)
    reset = max(1, math.ceil((window + 1) * 60 - now))
    minute_count, second_count = _hits([(f"rl:m:{ident}:{window}", 61), (f"rl:s:{ident}:{int(now)}", 2)])
    retry_after = None
    if minute_count > per_minute:
        retry_after = reset
    elif second_count > per_second:
        retry_after = 1
    return RateLimit(limit=per_minute, remaining=max(per_minute - minute_count, 0), reset=reset, retry_after=retry_after)


def _conditional(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A strong ETag on every read; If-None-Match with it answers 304 Not Modified without a body."""
    etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
    asked = {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}
    if etag in asked or "*" in asked:
        not_modified = HttpResponse(status=304)
        for header in ("Cache-Control", "Vary", "Link"):
            if header in response:
                not_modified[header] = response[header]
        response = not_modified
    response["ETag"] = etag
    return response


class ApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        supplied = request.headers.get("X-Correlation-ID", "")
        request.correlation_id = supplied if _CORRELATION_ID.match(supplied) else str(uuid.uuid4())
        asked = request.headers.get("X-API-Version", "")
        version = asked if _VERSION.match(asked) else API_VERSION

        principal = None
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            principal = principal_from_bearer(authorization[7:].strip(), ip=request.META.get("REMOTE_ADDR") or None)
        request.principal = principal
        label_token = audit_actor_label.set(f"api-key {principal.api_key.display}" if principal and principal.api_key else "")
        try:
            response = self._respond(request, principal, version)
        finally:
            audit_actor_label.reset(label_token)
        if principal is not None:  # usage per credential (buffered: written off the request path)
            usage_record(request=request, response=response, principal=principal, started=started)
        return response

    def _respond(self, request: HttpRequest, principal, version: str) -> HttpResponse:
        ident = principal.credential_id if principal else f"ip:{request.META.get('REMOTE_ADDR', '')}"
        limit = rate_limit_hit(ident=ident, tier=principal.tier if principal else "anonymous")

        if limit.retry_after is not None:
            response = error_response(
                request,
                status=429,
                message="Too many requests: slow down and retry after the delay given.",
                details=f"The limit is {limit.limit} requests per minute for this credential.",
            )
            response["Retry-After"] = str(limit.retry_after)
        else:
            idempotency_key = request.headers.get("Idempotency-Key")
            if idempotency_key is not None and request.method == "POST" and principal is not None:
                response = idempotent(request, principal.credential_id, idempotency_key, lambda: self.get_response(request))
            else:
                response = self.get_response(request)
            if response.status_code >= 400 and not getattr(response, "streaming", False) and not is_error_envelope(response):
                # Django's own 404 (unknown URL), 405, 500: the same envelope as everything else.
                allow = response.get("Allow")
                response = error_response(request, status=response.status_code)
                if allow:
                    response["Allow"] = allow
        if request.method in ("GET", "HEAD") and response.status_code == 200 and not getattr(response, "streaming", False):
            response = _conditional(request, response)
        response["X-Correlation-ID"] = request.correlation_id
        response["X-API-Version"] = version
        response["X-RateLimit-Limit"] = str(limit.limit)
        response["X-RateLimit-Remaining"] = str(limit.remaining)
        response["X-RateLimit-Reset"] = str(limit.reset)
        return response
