"""Database helpers shared by the services: lock timeouts that become a clear "busy" answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection

from portal.errors import Busy


@contextmanager
def lock_timeout(ms: int | None = None) -> Iterator[None]:
    """Bound how long row locks taken inside the current transaction may wait.

    On PostgreSQL a lock that is not granted in time raises ``Busy`` (409 + Retry-After) instead of
    holding the request. The connection already carries ``settings.LOCK_TIMEOUT_MS``; pass ``ms`` to use
    another bound inside this transaction. SQLite serialises writers itself (IMMEDIATE transactions).
    """
    if ms is not None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [f"{int(ms)}ms"])
    try:
        yield
    except OperationalError as exc:
        if getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "55P03":
            raise Busy("This is busy right now, please try again in a moment.") from exc
        raise
