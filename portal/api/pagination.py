"""Collections: page + pageSize, or limit + offset; a Link header (RFC 8288) with first/prev/next/last."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Schema

from portal.errors import DomainError

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100


class InvalidPagination(DomainError):
    code, status = "INVALID_PAGINATION", 400


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


def paginate(request: HttpRequest, response: HttpResponse, qs: QuerySet, serialize) -> dict:
    """Slice ``qs`` as the request asks, set the Link header on ``response`` and return the body."""
    total = qs.count()
    if "limit" in request.GET or "offset" in request.GET:
        size = _int(request, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        offset = _int(request, "offset", 0, 0)
        style = "offset"
    else:
        size = _int(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1)
        offset = (page - 1) * size
        style = "page"
    items = [serialize(obj) for obj in qs[offset : offset + size]]

    last_offset = max(((total - 1) // size) * size, 0)
    targets = {"first": 0, "last": last_offset}
    if offset > 0:
        targets["prev"] = max(offset - size, 0)
    if offset + size < total:
        targets["next"] = offset + size
    base = request.build_absolute_uri(request.path)
    kept = [(k, v) for k, v in request.GET.items() if k not in {"page", "pageSize", "limit", "offset"}]

    def link(target_offset: int) -> str:
        if style == "offset":
            params = [*kept, ("limit", size), ("offset", target_offset)]
        else:
            params = [*kept, ("page", target_offset // size + 1), ("pageSize", size)]
        return f"{base}?{urlencode(params)}"

    response["Link"] = ", ".join(f'<{link(o)}>; rel="{rel}"' for rel, o in targets.items())
    response["X-Total-Count"] = str(total)
    meta = (
        {"total": total, "limit": size, "offset": offset}
        if style == "offset"
        else {
            "total": total,
            "page": offset // size + 1,
            "pageSize": size,
            "totalPages": max((total + size - 1) // size, 1),
        }
    )
    return {"data": items, "pagination": meta}


class InvalidSort(DomainError):
    code, status = "INVALID_SORT", 400


class Pagination(Schema):
    """The ``pagination`` member of every collection: page style or offset style, as the client asked."""

    total: int
    page: int | None = None
    pageSize: int | None = None
    totalPages: int | None = None
    limit: int | None = None
    offset: int | None = None


def sort_order(sort: str, fields: dict[str, str], *, tiebreak: str = "id") -> list[str]:
    """``sort=-startsAt,title`` → ORM ordering, from the API names in ``fields``; unknown names are a 400."""
    order = []
    for part in filter(None, (p.strip() for p in sort.split(","))):
        name = part.lstrip("-")
        if name not in fields:
            raise InvalidSort(f"Cannot sort by '{name}'. Sort by: {', '.join(fields)}.", field="sort")
        order.append(("-" if part.startswith("-") else "") + fields[name])
    return [*order, tiebreak]
