from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The stored answer to a creating POST sent with an Idempotency-Key, kept 24 hours.

    ``status_code`` is empty while the first request is still being processed.
    """

    credential_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["credential_id", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.credential_id} {self.key}"
