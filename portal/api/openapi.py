"""The OpenAPI document: what every collection shares (paging parameters, Link header, CSV) is written once, here."""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from portal.api.pagination import DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE, MAX_PAGE_SIZE

PAGING_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "description": "Page number, from 1 (page style, with `pageSize`).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    },
    {
        "name": "pageSize",
        "in": "query",
        "required": False,
        "description": "Items per page (page style).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Items per page (offset and cursor styles).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
    },
    {
        "name": "offset",
        "in": "query",
        "required": False,
        "description": "Items to skip (offset style, with `limit`).",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "Cursor style: a `pagination.nextCursor` as given (empty: start at the beginning). Stable "
        "while items are added; never counts. An altered cursor, or one of another collection or sort, answers "
        "400 `INVALID_CURSOR`.",
        "schema": {"type": "string"},
    },
]

COLLECTION_HEADERS = {
    "Link": {
        "description": "RFC 8288 links: first, prev, next, last (cursor style: first, next).",
        "schema": {"type": "string"},
    },
    "X-Total-Count": {"description": "How many items match (page and offset styles).", "schema": {"type": "integer"}},
}

CSV_CONTENT = {
    "schema": {"type": "string"},
    "example": "\ufeffid,title,status\r\n42,Launch,published\r\n",
}

CSV_NOTE = (
    "\n\nSend `Accept: text/csv` for the whole filtered, sorted collection as a CSV attachment (every page, nested "
    "members as dotted columns such as `links.self`)."
)


def _component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})


def document_collections(schema: dict) -> dict:
    """Every operation answering ``{"data": [...], "pagination": ...}``: paging parameters, Link and CSV."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            ok = operation.get("responses", {}).get(200, operation.get("responses", {}).get("200"))
            ref = (ok or {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            properties = _component(schema, ref).get("properties", {}) if ref else {}
            if not {"data", "pagination"} <= set(properties):
                continue
            known = {p["name"] for p in operation.get("parameters", [])}
            operation.setdefault("parameters", []).extend(p for p in PAGING_PARAMETERS if p["name"] not in known)
            ok["content"]["text/csv"] = CSV_CONTENT
            ok.setdefault("headers", {}).update(COLLECTION_HEADERS)
            if CSV_NOTE not in operation.get("description", ""):
                operation["description"] = operation.get("description", "") + CSV_NOTE
    return schema


class _Schema(OpenAPISchema):
    def operation_security(self, operation: Operation) -> list[dict] | None:
        """Each operation names the scope its credential needs (ninja leaves the list empty)."""
        security = super().operation_security(operation)
        scopes = [scope for auth in operation.auth_callbacks if (scope := getattr(auth, "scope", None))]
        if security and scopes:
            security = [dict.fromkeys(requirement, scopes) for requirement in security]
        return security


class ConveneAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return document_collections(_Schema(self, path_prefix))
