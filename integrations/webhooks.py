"""Webhooks on the wire: the Standard Webhooks message and signature, target checks and the HTTP request.

Nothing here touches the database: services decide what to send and record what happened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC
from urllib.parse import urlsplit

import httpx

from integrations.models import OutboxEvent

SEND_TIMEOUT_SECONDS = 15
EXCERPT_BYTES = 2048
USER_AGENT = "Convene-Webhooks/1.0"


class UnsafeTarget(Exception):
    """The URL is not one we may send to (scheme, private address, name that does not resolve)."""


# --- message and signature ---------------------------------------------------------------------------


def message_body(event: OutboxEvent) -> bytes:
    """The JSON body integrators receive, exactly the bytes that are signed."""
    message = {
        "id": event.public_id,
        "event": event.event_type,
        "timestamp": event.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": "1.0",
        "data": event.payload,
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` signature of ``id.timestamp.body`` with the secret's decoded bytes."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secrets: list[str], msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret, space-separated (rotation)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sign(secret=s, msg_id=msg_id, timestamp=ts, body=body) for s in secrets),
    }


# --- targets ------------------------------------------------------------------------------------------


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook target as written (before any DNS look-up), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Enter a full URL, starting with https://."
    if parts.scheme != "https" and not allow_private:
        return "Webhook URLs must use https://."
    if parts.username or parts.password:
        return "Webhook URLs cannot contain a user name or password."
    try:
        _ = parts.port
    except ValueError:
        return "The port of this URL is not valid."
    if not allow_private:
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            if parts.hostname.lower() == "localhost" or parts.hostname.lower().endswith(".localhost"):
                return "Webhook URLs must point to a public address."
        else:
            if not _is_public(address):
                return "Webhook URLs must point to a public address."
    return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_target(url: str, *, allow_private: bool) -> str:
    """Resolve the URL's host now and return the address to connect to, refusing non-public ones.

    Every address the name resolves to must be public (a name that answers both a public and a private
    address is refused), and the request then goes to the address checked here, so a second, different
    DNS answer cannot redirect it.
    """
    if problem := url_problem(url, allow_private=allow_private):
        raise UnsafeTarget(problem)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"The host name {parts.hostname} could not be resolved.") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeTarget(f"The host name {parts.hostname} could not be resolved.")
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise UnsafeTarget(f"{parts.hostname} resolves to a non-public address ({address}).")
    return str(addresses[0])


# --- sending ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    duration_ms: int
    response_excerpt: str = ""
    error: str = ""
    #: the request's headers as they went out (empty when the target was refused before any request)
    request_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


#: kept-alive clients, one per target (scheme, host name, port, checked address), in the process that made them
_clients: OrderedDict[tuple[str, str, int, str], httpx.Client] = OrderedDict()
_clients_lock = threading.Lock()
_clients_pid = 0
MAX_CLIENTS = 256
#: connections one client keeps to its target (the busiest batch sends one endpoint's deliveries in order,
#: but several workers may send to it at once)
CONNECTIONS_PER_TARGET = 8


def _client(scheme: str, host: str, port: int, address: str) -> httpx.Client:
    """The kept-alive client for this target. Keyed by the checked address too, so a connection made
    to one address is never reused after the name resolves elsewhere, and by the name, so TLS sessions
    and certificate checks are never shared between two names on one address."""
    global _clients_pid
    key = (scheme, host, port, address)
    with _clients_lock:
        if _clients_pid != os.getpid():
            # a forked worker must not share its parent's sockets
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.pop(key, None)
        if client is None:
            client = httpx.Client(
                timeout=SEND_TIMEOUT_SECONDS,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=CONNECTIONS_PER_TARGET, max_keepalive_connections=CONNECTIONS_PER_TARGET),
            )
        _clients[key] = client  # most recently used last
        evicted = [_clients.popitem(last=False)[1] for _ in range(len(_clients) - MAX_CLIENTS)]
    for old in evicted:
        old.close()
    return client


def send(*, url: str, headers: dict[str, str], body: bytes, allow_private: bool) -> SendResult:
    """POST ``body`` to ``url``: target checked after DNS resolution, 15 s timeout, redirects not followed.

    The connection is kept alive for the next message to the same target. Never raises for network
    trouble: the failure is described in the result.
    """
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        address = resolve_target(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        return SendResult(status_code=None, duration_ms=elapsed(), error=str(exc))

    original = httpx.URL(url)
    pinned = original.copy_with(host=address)
    client = _client(original.scheme, original.host, original.port or (443 if original.scheme == "https" else 80), address)
    request = client.build_request(
        "POST",
        pinned,
        content=body,
        headers={
            "Host": original.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **headers,
        },
        # TLS: SNI and certificate checks use the name, the connection goes to the checked address
        extensions={"sni_hostname": original.host},
    )
    sent_headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers.raw}
    try:
        response = client.send(request, stream=True)
        try:
            excerpt = b""
            for chunk in response.iter_bytes():
                excerpt += chunk
                # enough for the log, or a receiver dripping its answer past the time limit: stop reading
                if len(excerpt) >= EXCERPT_BYTES or time.monotonic() - started > SEND_TIMEOUT_SECONDS:
                    break
        finally:
            response.close()
        return SendResult(
            status_code=response.status_code,
            duration_ms=elapsed(),
            response_excerpt=excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")[:EXCERPT_BYTES],
            request_headers=sent_headers,
        )
    except httpx.TimeoutException:
        return SendResult(
            status_code=None,
            duration_ms=elapsed(),
            error=f"No answer within {SEND_TIMEOUT_SECONDS} s.",
            request_headers=sent_headers,
        )
    except httpx.HTTPError as exc:
        return SendResult(
            status_code=None,
            duration_ms=elapsed(),
            error=f"{type(exc).__name__}: {exc}"[:1000],
            request_headers=sent_headers,
        )
