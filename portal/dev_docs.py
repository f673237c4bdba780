"""What the developer docs pages show: code samples generated from the OpenAPI document, and every error code.

Nothing here is written by hand per endpoint: a sample is rendered from its operation (path, method, query
parameters, request body schema), and the error reference walks the error classes the API maps to its envelope,
so a new endpoint field or a new error code shows up in the docs without anyone remembering to add it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from portal.api.errors import STATUS_CODES

#: the operations the quick-start walks through: (method, path in the OpenAPI document, why)
QUICKSTART_OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ("get", "/api/v1/events", "List your events (a new sandbox has three)."),
    ("post", "/api/v1/registrations", "Register an attendee for a ticket type (a free one is confirmed at once)."),
    ("post", "/api/v1/webhooks", "Subscribe an endpoint of yours to events, signed with its own secret."),
)

#: values for request body fields and query parameters, by name: what a reader would type
EXAMPLE_VALUES: dict[str, Any] = {
    "ticketTypeId": 1,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "url": "https://example.com/webhooks/convene",
    "eventTypes": ["registration.confirmed", "registration.cancelled"],
    "description": "CRM sync",
    "status": "published",
    "pageSize": 10,
}
#: query parameters a sample shows (when the operation has them)
SAMPLE_QUERY = ("status", "pageSize")

#: codes the API answers without a DomainError class (its own handlers, the idempotency layer)
ENVELOPE_CODES: dict[str, tuple[int, str]] = {
    "UNAUTHENTICATED": (401, "No credential, or one that is unknown, revoked, expired, or of the wrong mode."),
    "VALIDATION_ERROR": (422, "The request body or a parameter is not valid; `target` names the field."),
    "INVALID_IDEMPOTENCY_KEY": (400, "`Idempotency-Key` must be 1 to 255 characters."),
    "IDEMPOTENCY_KEY_REUSED": (422, "This `Idempotency-Key` came with a different request: use a new key."),
    "IDEMPOTENCY_KEY_IN_USE": (409, "A request with this `Idempotency-Key` is still being processed: retry shortly."),
}

#: what a client should understand by each code (the class docstrings are written for maintainers)
MEANINGS: dict[str, str] = {
    "BAD_REQUEST": "The request could not be understood.",
    "UNAUTHENTICATED": ENVELOPE_CODES["UNAUTHENTICATED"][1],
    "FORBIDDEN": "The credential is valid but may not do this.",
    "RESOURCE_NOT_FOUND": "No such resource in your organization (another organization's resources answer the same).",
    "METHOD_NOT_ALLOWED": "This path does not take this HTTP method; `Allow` lists those it takes.",
    "NOT_ACCEPTABLE": "The `Accept` header asks for a format this resource cannot be served in.",
    "CONFLICT": "The request conflicts with the resource's current state.",
    "PAYLOAD_TOO_LARGE": "The request body is too large.",
    "UNSUPPORTED_MEDIA_TYPE": "Send JSON (`Content-Type: application/json`).",
    "VALIDATION_ERROR": ENVELOPE_CODES["VALIDATION_ERROR"][1],
    "RATE_LIMITED": "Too many requests for this credential's tier: wait for `Retry-After` seconds.",
    "INTERNAL_ERROR": "Something failed on our side: quote the `correlationId` to support.",
    "SERVICE_UNAVAILABLE": "The service is briefly unavailable: retry with a backoff.",
    "DOMAIN_ERROR": "The request cannot be carried out; `message` says why.",
    "INSUFFICIENT_SCOPE": "The credential lacks the scope this operation needs (`details.requiredScope`).",
    "BUSY": "The resource is being changed by another request: retry after `Retry-After` seconds.",
    "INVALID_STATE": "The resource is not in a state that allows this.",
    "OWNER_ONLY": "Only an owner can create, change or remove an owner.",
    "LAST_OWNER": "An organization needs at least one owner.",
    "ALREADY_MEMBER": "This person is already a member of the organization.",
    "INVITATION_INVALID": "The invitation was used or revoked.",
    "SLUG_TAKEN": "This address (slug) is already taken.",
    "INVALID_SCOPES": "Unknown scope names, or none given.",
    "KEY_MODE_MISMATCH": "Test keys (`cnv_test_…`) belong to sandbox organizations only, live keys to real ones only.",
    "KEY_INACTIVE": "The key is revoked or expired.",
    "APP_NAME_TAKEN": "An app with this name exists already.",
    "INVALID_PAGINATION": "Paging parameters that do not fit together or are out of range.",
    "INVALID_CURSOR": "A `cursor` that was altered, or belongs to another collection or sort order.",
    "INVALID_SORT": "`sort` names a field this collection cannot be sorted by.",
    "INVALID_EVENT_STATE": "The event's status does not allow this (e.g. publishing a cancelled event).",
    "PAYMENT_NOT_REFUNDABLE": "The payment cannot be refunded (not completed, or refunded already).",
    "SOLD_OUT": "The ticket type has no seats left.",
    "SESSION_FULL": "A chosen session has no seats left.",
    "SALES_NOT_OPEN": "Sales for this ticket type have not started yet.",
    "SALES_CLOSED": "Sales for this ticket type have ended.",
    "EVENT_NOT_OPEN": "The event is a draft or cancelled: nobody can register.",
    "ALREADY_CHECKED_IN": "This ticket was checked in already; `details` gives when.",
    "REGISTRATION_CANCELLED": "The registration is cancelled.",
    "REGISTRATION_NOT_CONFIRMED": "The registration is not confirmed (e.g. still waiting for payment).",
    "WEBHOOK_ENDPOINT_DISABLED": "The webhook endpoint is disabled: enable it first.",
    "INVALID_WEBHOOK_URL": "The webhook URL must be https on a public address.",
    "INVALID_EVENT_TYPES": "Unknown webhook event types.",
    "INVALID_OAUTH_CLIENT": "The OAuth client's settings cannot be used (grant type, redirect URIs or scopes).",
    "CONSENT_NOT_ALLOWED": "The user's role does not allow granting the scopes this OAuth app asks for.",
}

#: error classes of pages the API never serves (the SSO settings page's)
NOT_API_MODULES = ("accounts.sso",)


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    meaning: str


def _error_modules() -> None:
    """Import every module that defines errors the API can raise (the API root imports the routers)."""
    import portal.api  # noqa: F401 - the routers, their services and their errors

    for app in ("accounts", "events", "integrations", "portal"):
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{app}.errors")


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _meaning(code: str, cls: type | None = None) -> str:
    if code in MEANINGS:
        return MEANINGS[code]
    doc = " ".join((cls.__doc__ or "").split()) if cls is not None else ""
    return doc.replace("``", "`") or "See the error's `message`."


def error_codes() -> list[ErrorCode]:
    """Every code the API's error envelope can carry, with its HTTP status and meaning, sorted by code."""
    from portal.errors import DomainError

    _error_modules()
    codes: dict[str, ErrorCode] = {}
    for status, code in STATUS_CODES.items():
        codes[code] = ErrorCode(code, status, _meaning(code))
    for code, (status, meaning) in ENVELOPE_CODES.items():
        codes.setdefault(code, ErrorCode(code, status, meaning))
    for cls in [DomainError, *_subclasses(DomainError)]:
        if cls.__module__.startswith(NOT_API_MODULES):
            continue
        codes.setdefault(cls.code, ErrorCode(cls.code, cls.status, _meaning(cls.code, cls)))
    return sorted(codes.values(), key=lambda e: e.code)


# --- Samples ---------------------------------------------------------------------------------------


@dataclass
class Sample:
    method: str
    path: str
    summary: str
    why: str
    url: str
    body: dict | None
    curl: str = ""
    python: str = ""
    javascript: str = ""
    parameters: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.method} {self.path}".lower()).strip("-")


@cache
def openapi_schema() -> dict:
    from portal.api import api

    return api.get_openapi_schema()


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _value(name: str, prop: dict, overrides: dict[str, Any]) -> Any:
    if name in overrides:
        return overrides[name]
    if name in EXAMPLE_VALUES:
        return EXAMPLE_VALUES[name]
    if "example" in prop:
        return prop["example"]
    if "default" in prop:
        return prop["default"]
    kind = prop.get("type")
    return {"integer": 1, "number": 1, "boolean": False, "array": []}.get(kind, "…")


def example_body(schema: dict, operation: dict, overrides: dict[str, Any] | None = None) -> dict | None:
    """A request body for ``operation``: its required fields, plus the optional ones a reader would set."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return None
    body_schema = _resolve(schema, content["schema"])
    required = set(body_schema.get("required", ()))
    overrides = overrides or {}
    return {
        name: _value(name, prop, overrides)
        for name, prop in body_schema.get("properties", {}).items()
        if name in required or name in EXAMPLE_VALUES or name in overrides
    }


def _curl(method: str, url: str, body: dict | None) -> str:
    lines = [f"curl -X {method.upper()} '{url}'" if method != "get" else f"curl '{url}'"]
    lines.append('  -H "Authorization: Bearer $CONVENE_KEY"')
    if body is not None:
        lines.append('  -H "Content-Type: application/json"')
        lines.append(f"  -d '{json.dumps(body)}'")
    return " \\\n".join(lines)


def _py(value: Any, level: int = 1) -> str:
    """``value`` as a Python literal, dicts one key a line (what someone would type)."""
    if isinstance(value, dict):
        pad = "    " * (level + 1)
        items = "".join(f"{pad}{json.dumps(k)}: {_py(v, level + 1)},\n" for k, v in value.items())
        return "{\n" + items + "    " * level + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v, level) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return repr(value)
    return json.dumps(value)


def _python(method: str, url: str, body: dict | None) -> str:
    args = [json.dumps(url), "headers=headers"]
    if body is not None:
        args.append(f"json={_py(body)}")
    call = f"httpx.{method}(\n" + "".join(f"    {arg},\n" for arg in args) + ")"
    return (
        "import os\n\nimport httpx\n\n"
        'headers = {"Authorization": f"Bearer {os.environ[\'CONVENE_KEY\']}"}\n'
        f"response = {call}\n"
        "response.raise_for_status()\n"
        "print(response.json())"
    )


def _javascript(method: str, url: str, body: dict | None) -> str:
    options = [f'method: "{method.upper()}"'] if method != "get" else []
    headers = ["Authorization: `Bearer ${process.env.CONVENE_KEY}`"]
    if body is not None:
        headers.append('"Content-Type": "application/json"')
    options.append("headers: {\n    " + ",\n    ".join(headers) + ",\n  }")
    if body is not None:
        options.append(f"body: JSON.stringify({json.dumps(body, indent=2).replace(chr(10), chr(10) + '  ')})")
    return (
        f'const response = await fetch("{url}", {{\n  ' + ",\n  ".join(options) + ",\n});\n"
        "if (!response.ok) throw new Error((await response.json()).error.message);\n"
        "console.log(await response.json());"
    )


def quickstart_samples(*, base_url: str, overrides: dict[str, Any] | None = None) -> list[Sample]:
    """curl, Python (httpx) and JavaScript (fetch) for each quick-start operation, from the OpenAPI document.

    ``base_url`` is this site's root (``https://events.example.com``); ``overrides`` replaces example values by
    name (e.g. a real ``ticketTypeId`` of the reader's sandbox).
    """
    schema = openapi_schema()
    samples = []
    for method, path, why in QUICKSTART_OPERATIONS:
        operation = schema["paths"][path][method]
        query = [p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query" and p["name"] in SAMPLE_QUERY]
        url = base_url.rstrip("/") + path
        if query:
            url += "?" + "&".join(f"{name}={_value(name, {}, overrides or {})}" for name in query)
        body = example_body(schema, operation, overrides)
        samples.append(
            Sample(
                method=method,
                path=path,
                summary=operation.get("summary", ""),
                why=why,
                url=url,
                body=body,
                curl=_curl(method, url, body),
                python=_python(method, url, body),
                javascript=_javascript(method, url, body),
                parameters=query,
            )
        )
    return samples


# --- Changelog -------------------------------------------------------------------------------------

CHANGELOG = Path(__file__).resolve().parent.parent / "docs" / "CHANGELOG-API.md"


def _inline(text: str) -> str:
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return re.sub(r"\[([^\]]+)\]\((/[^)\s]*)\)", r'<a href="\2">\1</a>', html)  # site-relative links only


def markdown_html(text: str) -> SafeString:
    """The little Markdown the changelog uses: headings (with ids), bullet lists, paragraphs, `code`, **bold**,
    and links to this site's pages. Everything else is escaped."""
    out: list[str] = []
    paragraph: list[str] = []
    in_list = False

    def flush() -> None:
        nonlocal in_list
        if paragraph:
            out.append(("<li>" if in_list else "<p>") + _inline(" ".join(paragraph)) + ("</li>" if in_list else "</p>"))
            paragraph.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        heading = re.match(r"^(#{1,4}) (.+)$", line)
        if heading or not line.strip() or line.startswith("- "):
            flush()
        if heading:
            if in_list:
                out.append("</ul>")
                in_list = False
            level = len(heading.group(1))
            title = heading.group(2)
            anchor = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            out.append(f'<h{level} id="{anchor}">{_inline(title)}</h{level}>')
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            paragraph.append(line[2:])
        elif not line.strip():
            if in_list:
                out.append("</ul>")
                in_list = False
        else:
            paragraph.append(line.strip())
    flush()
    if in_list:
        out.append("</ul>")
    return mark_safe("\n".join(out))  # noqa: S308 - every piece of text went through escape()


def changelog_html() -> SafeString:
    """The changelog below the page's own title (the file's ``# title`` line is left out)."""
    text = CHANGELOG.read_text(encoding="utf-8")
    if text.startswith("# "):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return markdown_html(text)
