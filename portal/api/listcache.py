"""Repeat reads of a big collection are answered from the cache until the organization's data changes.

Every write to events, sessions, registrations, payments and check-ins goes through a service that writes
an audit entry in the same transaction. The id of an organization's newest audit entry is therefore a
version of all that data: a page stored under it stays right until the next committed change, which makes
a new version. Reading the version is one index lookup; a page costs a cache read instead of its queries
and serialization. A change made around the service layer (the Django admin, a shell) is seen at the
latest after ``API_LIST_CACHE_SECONDS``.

Only collections built from audited data opt in (``paginate(..., cache_for=org)``): webhook deliveries,
for one, change under the workers without an audit entry and are never cached.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse

from accounts.models import AuditEntry, Organization

#: the headers a cached page answers with again (the middleware adds the per-request ones)
KEPT_HEADERS = ("Link", "X-Total-Count")


_NEWEST_SQL = f"SELECT id FROM {AuditEntry._meta.db_table} WHERE organization_id = %s ORDER BY id DESC LIMIT 1"  # noqa: S608


def data_version(org: Organization) -> int:
    """The organization's newest audit entry id: it changes with every committed change of its data.

    Plain SQL on the (organization, -id) index: building the ORM query would cost more than running it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_NEWEST_SQL, [org.pk])
        row = cursor.fetchone()
    return row[0] if row else 0


def cache_key(request: HttpRequest, org: Organization) -> str | None:
    if not settings.API_LIST_CACHE_SECONDS:
        return None
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    return f"api:list:{org.pk}:{data_version(org)}:{path}"


def answer_repeat(request: HttpRequest, org: Organization) -> HttpResponse | None:
    """First thing in a collection view (after the scope check): the cached page of a repeat, or None.

    The key is taken once, before the view reads any data, and ``paginate(..., cache_for=org)`` stores
    the page under that same key: a change committed while the page is being read makes a new version,
    so a page is never stored under a version newer than its data.
    """
    if "text/csv" in request.headers.get("Accept", ""):
        return None
    request.list_cache_key = cache_key(request, org)
    return cached_page(request.list_cache_key)


def cached_page(key: str | None) -> HttpResponse | None:
    if key is None:
        return None
    hit = cache.get(key)
    if hit is None:
        return None
    body, headers = hit
    response = HttpResponse(body, content_type="application/json")
    for name, value in headers:
        response[name] = value
    return response


def store_page(key: str | None, response: HttpResponse) -> None:
    if key is None or response.status_code != 200:
        return
    headers = [(name, response[name]) for name in KEPT_HEADERS if name in response]
    cache.set(key, (response.content, headers), settings.API_LIST_CACHE_SECONDS)
