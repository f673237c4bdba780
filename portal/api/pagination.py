"""Collections: page + pageSize, limit + offset, or a keyset cursor; a Link header (RFC 8288); CSV on request.

Every collection endpoint hands its filtered, sorted queryset to :func:`paginate`, which answers one of:

- ``?page=2&pageSize=50`` (the default style) or ``?limit=50&offset=100``: one page, ``total`` counted, a
  ``Link`` header with first/prev/next/last and ``X-Total-Count``;
- ``?cursor=<nextCursor>&limit=50`` (``cursor=`` empty starts at the beginning): keyset pagination over the
  sort key plus id, no count, stable while rows are added; ``Link`` with first and next. The cursor is
  opaque and signed: a cursor that was altered, or that belongs to another collection or sort, is a 400
  ``INVALID_CURSOR``;
- ``Accept: text/csv``: the whole filtered, sorted collection as a streamed CSV attachment.

The JSON body is encoded once, here, and returned as an ``HttpResponse``: the operation's response schema
still documents it in the OpenAPI document (tests check the two agree), but a page of fifty items is not
validated again field by field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Schema

from accounts.models import Organization
from portal.api import listcache
from portal.csv_safe import BOM, Line, safe_cell
from portal.errors import DomainError

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
#: far past any collection's end, and small enough for every database's integers
MAX_PAGE, MAX_OFFSET = 1_000_000, 100_000_000
CSV_CHUNK = 1000  # rows fetched per query while streaming a CSV
CURSOR_SALT = "convene.api.cursor"
PAGING_PARAMS = frozenset({"page", "pageSize", "limit", "offset", "cursor"})
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class InvalidPagination(DomainError):
    code, status = "INVALID_PAGINATION", 400


class InvalidCursor(DomainError):
    code, status = "INVALID_CURSOR", 400


class InvalidSort(DomainError):
    code, status = "INVALID_SORT", 400


class Pagination(Schema):
    """The ``pagination`` member of every collection. Each style fills its own members, the others are null:
    page style ``total``/``page``/``pageSize``/``totalPages``, offset style ``total``/``limit``/``offset``,
    cursor style ``limit`` (no ``total``: a cursor walk never counts). ``nextCursor`` continues after this page
    in cursor style, whichever style asked for it; it is null on the last page."""

    total: int | None = None
    page: int | None = None
    pageSize: int | None = None
    totalPages: int | None = None
    limit: int | None = None
    offset: int | None = None
    nextCursor: str | None = None


_ENCODER = DjangoJSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Rows:
    """A faster serializer for big collections: the page is read as ``.values(*fields)`` rows (no model
    instances) and ``build`` turns the whole page into resources at once (loading what they need in one
    query per relation)."""

    fields: tuple[str, ...]
    build: Callable[[list[dict]], list[dict]]


Serializer = Callable[[Any], dict] | Rows


def json_response(body: object, *, status: int = 200) -> HttpResponse:
    """``body`` as JSON, datetimes written exactly as the API writes them everywhere else."""
    return HttpResponse(_ENCODER.encode(body).encode(), status=status, content_type=JSON_CONTENT_TYPE)


def _int(request: HttpRequest, name: str, default: int | None, low: int, high: int | None = None) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidPagination(f"{name} must be a whole number.", field=name) from None
    if value < low or (high is not None and value > high):
        raise InvalidPagination(
            f"{name} must be between {low} and {high}." if high else f"{name} must be at least {low}.", field=name
        )
    return value


def wants_csv(request: HttpRequest) -> bool:
    return "text/csv" in request.headers.get("Accept", "")


def paginate(
    request: HttpRequest,
    response: HttpResponse | None,
    qs: QuerySet,
    serialize: Serializer,
    *,
    filename: str | None = None,
    cache_for: Organization | None = None,
) -> HttpResponse:
    """Answer the collection ``qs`` as the request asks: one page of JSON, or (``Accept: text/csv``) all of it.

    ``serialize`` turns one object into its resource, or is a :class:`Rows` that turns a whole page at once.
    ``response`` is the operation's temporal response: headers set on it are kept. ``filename`` names the CSV
    attachment (default: the last word of the path). ``cache_for``: the organization whose audited data the
    collection shows, to answer repeats from the cache until that data changes (see ``listcache``).
    """
    key = None
    if wants_csv(request):
        out = csv_response(qs, serialize, filename=filename or _default_filename(request))
    else:
        key = None
        if cache_for is not None:
            # the key taken before the view read anything (listcache.answers_repeats), else now
            key = getattr(request, "list_cache_key", None) or listcache.cache_key(request, cache_for)
        out = listcache.cached_page(key)
        if out is None:
            out = _cursor_page(request, qs, serialize) if "cursor" in request.GET else _numbered_page(request, qs, serialize)
            listcache.store_page(key, out)
    if response is not None:
        for header, value in response.items():
            if header.lower() != "content-type" and header not in out:
                out[header] = value
    return out


def _link_header(request: HttpRequest, targets: Iterable[tuple[str, list[tuple[str, object]]]]) -> str:
    base = request.build_absolute_uri(request.path)
    kept = [(k, v) for k, v in request.GET.items() if k not in PAGING_PARAMS]
    return ", ".join(f'<{base}?{urlencode([*kept, *params])}>; rel="{rel}"' for rel, params in targets)


def _numbered_page(request: HttpRequest, qs: QuerySet, serialize: Serializer) -> HttpResponse:
    if "limit" in request.GET or "offset" in request.GET:
        if "page" in request.GET or "pageSize" in request.GET:
            raise InvalidPagination("Page with page + pageSize or with limit + offset, not both.", field="page")
        size = _int(request, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        offset = _int(request, "offset", 0, 0, MAX_OFFSET)
        style = "offset"
    else:
        size = _int(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1, MAX_PAGE)
        offset = (page - 1) * size
        style = "page"
    keyset = _keyset(qs)
    items, last_key, _more = _page(qs, serialize, keyset, offset, size)
    # The count is only needed when the page is full or the client skipped past the end.
    total = offset + len(items) if (0 < len(items) < size or (not items and offset == 0)) else qs.count()
    has_next = offset + size < total
    body = {
        "data": items,
        "pagination": {
            "total": total,
            "page": offset // size + 1 if style == "page" else None,
            "pageSize": size if style == "page" else None,
            "totalPages": max((total + size - 1) // size, 1) if style == "page" else None,
            "limit": size if style == "offset" else None,
            "offset": offset if style == "offset" else None,
            "nextCursor": _cursor_for(request, keyset, last_key) if has_next and last_key is not None else None,
        },
    }

    def params(target: int) -> list[tuple[str, object]]:
        if style == "offset":
            return [("limit", size), ("offset", target)]
        return [("page", target // size + 1), ("pageSize", size)]

    targets = {"first": 0, "last": max(((total - 1) // size) * size, 0)}
    if offset > 0:
        targets["prev"] = max(offset - size, 0)
    if has_next:
        targets["next"] = offset + size
    out = json_response(body)
    out["Link"] = _link_header(request, ((rel, params(target)) for rel, target in targets.items()))
    out["X-Total-Count"] = str(total)
    return out


# --- Cursors ---------------------------------------------------------------------------------------


def _keyset(qs: QuerySet) -> list[tuple[str, bool]] | None:
    """The ordering of ``qs`` as (model field, descending) pairs ending in the primary key, or None when it
    cannot be walked with a keyset (ordered by an expression, an annotation, a related or nullable field)."""
    ordering = list(qs.query.order_by) or (list(qs.model._meta.ordering) if qs.query.default_ordering else [])
    keys: list[tuple[str, bool]] = []
    for part in ordering:
        if not isinstance(part, str) or part == "?":
            return None
        descending = part.startswith("-")
        name = part.lstrip("-")
        name = "pk" if name in ("pk", qs.model._meta.pk.name) else name
        if name != "pk":
            try:
                field = qs.model._meta.get_field(name)
            except FieldDoesNotExist:
                return None
            if field.null or not field.concrete or field.is_relation:
                return None
        keys.append((name, descending))
        if name == "pk":
            return keys
    return [*keys, ("pk", False)]


def _key_columns(qs: QuerySet, keyset: list[tuple[str, bool]]) -> list[str]:
    return [qs.model._meta.pk.attname if name == "pk" else name for name, _desc in keyset]


def _page(
    qs: QuerySet, serialize: Serializer, keyset: list[tuple[str, bool]] | None, start: int, size: int, *, peek: bool = False
) -> tuple[list[dict], list[Any] | None, bool]:
    """Items ``start`` to ``start + size`` of ``qs`` as resources, the key values of the last one (None without a
    keyset or items) and, with ``peek``, whether more follow (one more row is read to know)."""
    stop = start + size + (1 if peek else 0)
    keys = _key_columns(qs, keyset) if keyset else []
    if isinstance(serialize, Rows):
        rows = list(qs.values(*serialize.fields, *(k for k in keys if k not in serialize.fields))[start:stop])
        more, rows = len(rows) > size, rows[:size]
        last = [rows[-1][k] for k in keys] if rows and keys else None
        return serialize.build(rows), last, more
    objs = list(qs[start:stop])
    more, objs = len(objs) > size, objs[:size]
    last = [getattr(objs[-1], k) for k in keys] if objs and keys else None
    return [serialize(obj) for obj in objs], last, more


def _cursor_scope(request: HttpRequest, keyset: list[tuple[str, bool]]) -> str:
    """What a cursor is valid for: this collection, in this order."""
    return request.path + "|" + ",".join(("-" if desc else "") + name for name, desc in keyset)


def _cursor_for(request: HttpRequest, keyset: list[tuple[str, bool]] | None, last_key: list[Any] | None) -> str | None:
    if keyset is None or last_key is None:
        return None
    values = json.loads(_ENCODER.encode(last_key))
    return signing.dumps({"s": _cursor_scope(request, keyset), "v": values}, salt=CURSOR_SALT, compress=False)


def _cursor_filter(qs: QuerySet, keyset: list[tuple[str, bool]], raw_values: list[Any]) -> Q:
    """Rows strictly after ``raw_values`` in the keyset order: (a > x) or (a = x and b > y) or ..."""
    values = []
    for (name, _desc), raw in zip(keyset, raw_values, strict=True):
        field = qs.model._meta.pk if name == "pk" else qs.model._meta.get_field(name)
        values.append(field.to_python(raw))
    after = Q()
    for i, (name, desc) in enumerate(keyset):
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[i]})
        for j in range(i):
            step &= Q(**{keyset[j][0]: values[j]})
        after |= step
    return after


def _cursor_page(request: HttpRequest, qs: QuerySet, serialize: Serializer) -> HttpResponse:
    for name in ("page", "offset"):
        if name in request.GET:
            raise InvalidPagination(f"A cursor cannot be combined with {name}: use cursor + limit.", field=name)
    size_param = "limit" if "limit" in request.GET else "pageSize"
    size = _int(request, size_param, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    keyset = _keyset(qs)
    if keyset is None:
        raise InvalidCursor("This collection cannot be walked with a cursor in this order.", field="cursor")
    ordered = qs.order_by(*(("-" if desc else "") + name for name, desc in keyset))
    token = request.GET["cursor"]
    if token:
        try:
            decoded = signing.loads(token, salt=CURSOR_SALT)
        except signing.BadSignature:
            raise InvalidCursor("This cursor is not valid: use a nextCursor as given.", field="cursor") from None
        if not isinstance(decoded, dict) or decoded.get("s") != _cursor_scope(request, keyset):
            raise InvalidCursor("This cursor belongs to another collection or sort order.", field="cursor")
        try:
            ordered = ordered.filter(_cursor_filter(qs, keyset, decoded["v"]))
        except (KeyError, TypeError, ValueError, ValidationError):
            raise InvalidCursor("This cursor is not valid: use a nextCursor as given.", field="cursor") from None
    items, last_key, more = _page(ordered, serialize, keyset, 0, size, peek=True)
    next_cursor = _cursor_for(request, keyset, last_key) if more else None
    body = {
        "data": items,
        "pagination": {
            "total": None,
            "page": None,
            "pageSize": None,
            "totalPages": None,
            "limit": size,
            "offset": None,
            "nextCursor": next_cursor,
        },
    }
    out = json_response(body)
    targets = [("first", [("cursor", ""), ("limit", size)])]
    if next_cursor:
        targets.append(("next", [("cursor", next_cursor), ("limit", size)]))
    out["Link"] = _link_header(request, targets)
    return out


# --- CSV -------------------------------------------------------------------------------------------


def _default_filename(request: HttpRequest) -> str:
    words = [part for part in request.path.strip("/").split("/") if not part.isdigit()]
    return f"{words[-1] if words else 'export'}.csv"


def _flatten(value: object, prefix: str, into: dict[str, object]) -> None:
    """Nested objects become dotted columns (``venue.name``, ``links.self``); lists of plain values are joined
    with "; "; lists of objects are written as JSON text."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else key, into)
    elif isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            into[prefix] = "; ".join(_text(v) for v in value)
        else:
            into[prefix] = _ENCODER.encode(value)
    else:
        into[prefix] = value


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return str(_ENCODER.default(value))  # datetimes, decimals: as the JSON answers write them


def _resources(qs: QuerySet, serialize: Serializer) -> Iterator[dict]:
    if isinstance(serialize, Rows):
        rows = qs.values(*serialize.fields).iterator(chunk_size=CSV_CHUNK)
        while chunk := list(islice(rows, CSV_CHUNK)):
            yield from serialize.build(chunk)
    else:
        for obj in qs.iterator(chunk_size=CSV_CHUNK):
            yield serialize(obj)


def _csv_lines(resources: Iterator[dict]) -> Iterator[str]:
    """The header comes from the first chunk of rows (columns in order of first appearance)."""
    writer = csv.writer(Line())
    first: list[dict[str, object]] = []
    columns: dict[str, None] = {}
    for resource in resources:
        flat: dict[str, object] = {}
        _flatten(resource, "", flat)
        columns.update(dict.fromkeys(flat))
        first.append(flat)
        if len(first) >= CSV_CHUNK:
            break
    names = list(columns)
    yield BOM + writer.writerow(names)
    for flat in first:
        yield writer.writerow([safe_cell(_text(flat.get(name))) for name in names])
    for resource in resources:
        flat = {}
        _flatten(resource, "", flat)
        yield writer.writerow([safe_cell(_text(flat.get(name))) for name in names])


def csv_response(qs: QuerySet, serialize: Serializer, *, filename: str) -> StreamingHttpResponse:
    """Every row of ``qs`` (filtered and sorted, not paged) as a streamed CSV attachment."""
    response = StreamingHttpResponse(_csv_lines(_resources(qs, serialize)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- Sorting ---------------------------------------------------------------------------------------


def sort_order(sort: str, fields: dict[str, str], *, tiebreak: str = "id") -> list[str]:
    """``sort=-startsAt,title`` → ORM ordering, from the API names in ``fields``; unknown names are a 400."""
    order = []
    for part in filter(None, (p.strip() for p in sort.split(","))):
        name = part.lstrip("-")
        if name not in fields:
            raise InvalidSort(f"Cannot sort by '{name}'. Sort by: {', '.join(fields)}.", field="sort")
        order.append(("-" if part.startswith("-") else "") + fields[name])
    return [*order, tiebreak]
