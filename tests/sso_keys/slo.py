"""Build SAML logout messages as an identity provider would, for the HTTP-Redirect binding, signed with
the test keys in this folder (the signature covers the query string, as the binding says)."""

from __future__ import annotations

import base64
from datetime import datetime
from urllib.parse import parse_qs, quote_plus, urlsplit
from xml.sax.saxutils import escape, quoteattr

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.sso_keys.idp import IDP_ENTITY_ID, IDP_KEY, NS, new_id, saml_time

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


def sls_url(sp_base: str, slug: str) -> str:
    return f"{sp_base}/accounts/saml/{slug}/sls/"


def redirect_query(param: str, xml: str, *, relay_state: str = "", key: str | None = IDP_KEY) -> str:
    """``SAMLRequest=…&RelayState=…&SigAlg=…&Signature=…`` (no signature when ``key`` is None)."""
    parts = [f"{param}={quote_plus(OneLogin_Saml2_Utils.deflate_and_base64_encode(xml))}"]
    if relay_state:
        parts.append(f"RelayState={quote_plus(relay_state)}")
    if key is not None:
        parts.append(f"SigAlg={quote_plus(OneLogin_Saml2_Constants.RSA_SHA256)}")
        private_key = serialization.load_pem_private_key(key.encode(), password=None)
        signature = private_key.sign("&".join(parts).encode(), padding.PKCS1v15(), hashes.SHA256())
        parts.append(f"Signature={quote_plus(base64.b64encode(signature).decode())}")
    return "&".join(parts)


def logout_request_xml(
    *,
    destination: str,
    name_id: str,
    session_index: str | None = None,
    issuer: str = IDP_ENTITY_ID,
    now: datetime,
    not_on_or_after: datetime | None = None,
    request_id: str | None = None,
) -> str:
    limit = f' NotOnOrAfter="{saml_time(not_on_or_after)}"' if not_on_or_after else ""
    index = f"<samlp:SessionIndex>{escape(session_index)}</samlp:SessionIndex>" if session_index else ""
    return (
        f'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{request_id or new_id()}" Version="2.0" '
        f'IssueInstant="{saml_time(now)}" Destination={quoteattr(destination)}{limit}>'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f'<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{escape(name_id)}</saml:NameID>'
        f"{index}</samlp:LogoutRequest>"
    )


def logout_response_xml(
    *, destination: str, in_response_to: str, now: datetime, issuer: str = IDP_ENTITY_ID, status: str = SUCCESS
) -> str:
    return (
        f'<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{new_id()}" Version="2.0" '
        f'IssueInstant="{saml_time(now)}" Destination={quoteattr(destination)} InResponseTo={quoteattr(in_response_to)}>'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status></samlp:LogoutResponse>'
    )


def redirect_message(location: str, param: str) -> etree._Element:
    """The SAML message an HTTP-Redirect binding URL carries (``param``: SAMLRequest or SAMLResponse)."""
    encoded = parse_qs(urlsplit(location).query)[param][0]
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(encoded)
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml)


def status_of(message: etree._Element) -> str:
    return message.find("samlp:Status/samlp:StatusCode", NS).get("Value")
