"""Idempotency-Key on creating POSTs: a replay gets the stored answer; another body under the same key is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from portal.api.errors import error_response
from portal.models import IdempotencyRecord

RETENTION = timedelta(hours=24)


def _request_hash(request: HttpRequest) -> str:
    return hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(), request.body])).hexdigest()


def idempotent(request: HttpRequest, credential_id: str, key: str, handle: Callable[[], HttpResponse]) -> HttpResponse:
    if not 1 <= len(key) <= 255:
        return error_response(
            request,
            status=400,
            code="INVALID_IDEMPOTENCY_KEY",
            message="Idempotency-Key must be 1 to 255 characters.",
            target="Idempotency-Key",
        )
    digest = _request_hash(request)
    IdempotencyRecord.objects.filter(credential_id=credential_id, key=key, created_at__lt=timezone.now() - RETENTION).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(credential_id=credential_id, key=key, request_hash=digest)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(credential_id=credential_id, key=key)
        if record.request_hash != digest:
            return error_response(
                request,
                status=409,
                code="IDEMPOTENCY_KEY_REUSED",
                message="This Idempotency-Key was used with another request: use a new key for a new request.",
                target="Idempotency-Key",
            )
        if record.status_code is None:
            response = error_response(
                request,
                status=409,
                code="IDEMPOTENCY_KEY_IN_USE",
                message="A request with this Idempotency-Key is still being processed: retry shortly.",
                target="Idempotency-Key",
            )
            response["Retry-After"] = "1"
            return response
        replay = HttpResponse(bytes(record.body), status=record.status_code, content_type=record.content_type)
        replay["Idempotent-Replayed"] = "true"
        return replay

    response = handle()
    if response.status_code >= 500 or getattr(response, "streaming", False):
        record.delete()  # nothing was promised: the client may retry with the same key
    else:
        record.status_code = response.status_code
        record.content_type = response.get("Content-Type", "")
        record.body = response.content
        record.save(update_fields=["status_code", "content_type", "body"])
    return response
