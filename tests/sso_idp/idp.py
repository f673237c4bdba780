"""A minimal SAML 2.0 identity provider for browser tests: pysaml2's ``Server`` behind a small WSGI app.

- ``GET /metadata``: the IdP's metadata (entity id, SSO and SLO endpoints, signing certificate)
- ``GET /sso?SAMLRequest=…``: an AuthnRequest (HTTP-Redirect binding) → a login form
- ``POST /sso/login``: checks the test user's password, answers with a signed assertion posted to the
  service provider's ACS (HTTP-POST binding, auto-submitted form)
- ``GET /slo?SAMLRequest=…``: a LogoutRequest → the signed LogoutResponse (HTTP-Redirect binding)

Served by wsgiref in a thread on 127.0.0.1; signs with the test keys in tests/sso_keys/ (pysaml2 calls
Debian's ``xmlsec1``). For tests only: no session, no consent screen, users and passwords in memory.
"""

from __future__ import annotations

import html
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

KEYS = Path(__file__).resolve().parents[1] / "sso_keys"


@dataclass
class IdpUser:
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    groups: list[str] = field(default_factory=list)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request, client_address):  # a browser may hold a keep-alive connection open
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""


class LocalIdp:
    """Start with ``start()``, give it the SP's metadata with ``trust_sp()``, stop with ``stop()``."""

    def __init__(self, users: list[IdpUser]) -> None:
        self.users = {user.email.lower(): user for user in users}
        self._httpd = make_server("127.0.0.1", 0, self._app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self.entity_id = f"{self.base_url}/metadata"
        self.logins: list[str] = []  # e-mails signed in, in order
        self.logouts: list[str] = []  # NameIDs logged out at the SP's request
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "name": "Convene test IdP",
                        "endpoints": {
                            "single_sign_on_service": [(f"{self.base_url}/sso", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [(f"{self.base_url}/slo", BINDING_HTTP_REDIRECT)],
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "want_authn_requests_signed": False,
                        "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
                    }
                },
                "key_file": str(KEYS / "idp.key"),
                "cert_file": str(KEYS / "idp.crt"),
                "xmlsec_binary": shutil.which("xmlsec1"),
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "metadata": {},
            }
        )
        self.server = Server(config=config)
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> LocalIdp:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def metadata_xml(self) -> str:
        return create_metadata_string(None, config=self.server.config, sign=False).decode()

    def trust_sp(self, metadata_xml: str) -> None:
        """Know a service provider (its ACS and entity id) from its metadata."""
        self.server.metadata.load("inline", metadata_xml)

    # --- the WSGI app ----------------------------------------------------------------------------------

    def _app(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if path == "/metadata" and method == "GET":
                return self._send(start_response, "200 OK", self.metadata_xml(), "application/samlmetadata+xml")
            if path == "/sso" and method == "GET":
                return self._login_form(start_response, query.get("SAMLRequest", ""), query.get("RelayState", ""))
            if path == "/sso/login" and method == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
                return self._login(start_response, form)
            if path == "/slo" and method == "GET":
                return self._logout(start_response, query)
        except Exception as exc:  # a test IdP: show what went wrong on the page
            return self._send(start_response, "400 Bad Request", PAGE.format(title="IdP error", body=html.escape(repr(exc))))
        return self._send(start_response, "404 Not Found", PAGE.format(title="Not found", body=""))

    @staticmethod
    def _send(start_response, status: str, body: str, content_type: str = "text/html; charset=utf-8", headers=()):
        data = body.encode()
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers])
        return [data]

    def _login_form(self, start_response, saml_request: str, relay_state: str):
        request = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        sp = html.escape(request.message.issuer.text)
        body = f"""<p>Sign in to continue to <strong>{sp}</strong>.</p>
<form method="post" action="/sso/login">
<input type="hidden" name="SAMLRequest" value="{html.escape(saml_request)}">
<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">
<p><label for="username">Username</label> <input id="username" name="username" type="email" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
<p><button type="submit">Sign in at the IdP</button></p>
</form>"""
        return self._send(start_response, "200 OK", PAGE.format(title="Test identity provider", body=body))

    def _login(self, start_response, form: dict):
        request = self.server.parse_authn_request(form["SAMLRequest"], BINDING_HTTP_REDIRECT)
        user = self.users.get(form.get("username", "").strip().lower())
        if user is None or user.password != form.get("password"):
            page = PAGE.format(title="Test identity provider", body='<p role="alert">Wrong username or password.</p>')
            return self._send(start_response, "401 Unauthorized", page)
        args = self.server.response_args(request.message, [BINDING_HTTP_POST])
        args.pop("binding", None)
        response = self.server.create_authn_response(
            {"email": [user.email], "firstName": [user.first_name], "lastName": [user.last_name], "groups": user.groups},
            userid=user.email,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user.email),
            authn={"class_ref": PASSWORDPROTECTEDTRANSPORT, "authn_auth": self.entity_id},
            sign_assertion=True,
            sign_response=False,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            **args,
        )
        self.logins.append(user.email)
        http = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), args["destination"], form.get("RelayState", ""), response=True
        )
        return self._send(start_response, "200 OK", http["data"])

    def _logout(self, start_response, query: dict):
        request = self.server.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        self.logouts.append(request.message.name_id.text)
        response = self.server.create_logout_response(request.message, [BINDING_HTTP_REDIRECT])
        destination = self.server.metadata.single_logout_service(request.message.issuer.text, BINDING_HTTP_REDIRECT, "spsso")[0][
            "location"
        ]
        http = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            destination,
            query.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        headers = [(name, value) for name, value in http["headers"] if name.lower() == "location"]
        return self._send(start_response, "303 See Other", "", headers=headers)
