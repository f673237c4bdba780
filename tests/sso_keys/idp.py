"""Build SAML responses as an identity provider would, signed with the test keys in this folder."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

HERE = Path(__file__).parent
IDP_KEY = (HERE / "idp.key").read_text()
IDP_CERT = (HERE / "idp.crt").read_text()
OTHER_KEY = (HERE / "other.key").read_text()
OTHER_CERT = (HERE / "other.crt").read_text()
IDP_ENTITY_ID = "https://idp.example.test/saml"
IDP_SSO_URL = "https://idp.example.test/saml/sso"
IDP_SLO_URL = "https://idp.example.test/saml/slo"
GROUPS_ATTRIBUTE = "groups"
NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "samlp": "urn:oasis:names:tc:SAML:2.0:protocol"}


def saml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def idp_metadata_xml(*, entity_id: str = IDP_ENTITY_ID, sso_url: str = IDP_SSO_URL, cert: str = IDP_CERT) -> str:
    body = "".join(line for line in cert.splitlines() if "CERTIFICATE" not in line)
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{body}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SLO_URL}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


def authn_request_id(location: str) -> str:
    """The ID of the AuthnRequest carried by an HTTP-Redirect binding URL."""
    saml_request = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(saml_request)
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml).get("ID")


def _attributes_xml(attributes: dict[str, list[str]]) -> str:
    parts = []
    for name, values in attributes.items():
        vals = "".join(f"<saml:AttributeValue>{escape(v)}</saml:AttributeValue>" for v in values)
        parts.append(
            f'<saml:Attribute Name={quoteattr(name)} NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
            f"{vals}</saml:Attribute>"
        )
    return "".join(parts)


def assertion_xml(
    *,
    assertion_id: str,
    issuer: str,
    name_id: str,
    audience: str,
    recipient: str,
    in_response_to: str | None,
    attributes: dict[str, list[str]],
    not_before: datetime,
    not_on_or_after: datetime,
    now: datetime,
) -> str:
    irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
    return (
        f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" Version="2.0" '
        f'IssueInstant="{saml_time(now)}">'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{escape(name_id)}</saml:NameID>"
        f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{saml_time(not_on_or_after)}" Recipient={quoteattr(recipient)}{irt}/>'
        f"</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{saml_time(not_before)}" NotOnOrAfter="{saml_time(not_on_or_after)}">'
        f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{saml_time(now)}" SessionIndex="_session_{assertion_id}">'
        f"<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>"
        f"</saml:AuthnStatement>"
        f"<saml:AttributeStatement>{_attributes_xml(attributes)}</saml:AttributeStatement>"
        f"</saml:Assertion>"
    )


def sign(xml: str, *, key: str = IDP_KEY, cert: str = IDP_CERT) -> str:
    signed = OneLogin_Saml2_Utils.add_sign(
        xml, key, cert, sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA256, digest_algorithm=OneLogin_Saml2_Constants.SHA256
    )
    return signed.decode() if isinstance(signed, bytes) else signed


def response_xml(
    *, response_id: str, destination: str, in_response_to: str | None, issuer: str, assertions: str, now: datetime
) -> str:
    irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
    dest = f" Destination={quoteattr(destination)}" if destination else ""
    return (
        f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{response_id}" Version="2.0" IssueInstant="{saml_time(now)}"{dest}{irt}>'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{assertions}</samlp:Response>"
    )


def new_id() -> str:
    return f"_{uuid.uuid4().hex}"


def build_response(
    *,
    sp_base: str,
    slug: str,
    in_response_to: str | None,
    email: str,
    groups: list[str] | None = None,
    first_name: str = "Ann",
    last_name: str = "Lee",
    name_id: str | None = None,
    issuer: str = IDP_ENTITY_ID,
    audience: str | None = None,
    destination: str | None = None,
    not_before: datetime | None = None,
    not_on_or_after: datetime | None = None,
    assertion_id: str | None = None,
    signed: str = "assertion",
    key: str = IDP_KEY,
    cert: str = IDP_CERT,
) -> str:
    """A base64 SAMLResponse for the SP of organization ``slug`` at ``sp_base`` (e.g. http://testserver)."""
    now = datetime.now(UTC)
    acs = f"{sp_base}/accounts/saml/{slug}/acs/"
    attributes = {"email": [email], "firstName": [first_name], "lastName": [last_name]}
    if groups is not None:
        attributes[GROUPS_ATTRIBUTE] = groups
    assertion = assertion_xml(
        assertion_id=assertion_id or new_id(),
        issuer=issuer,
        name_id=name_id or email,
        audience=audience or f"{sp_base}/accounts/saml/{slug}/metadata/",
        recipient=destination or acs,
        in_response_to=in_response_to,
        attributes=attributes,
        not_before=not_before or now - timedelta(minutes=1),
        not_on_or_after=not_on_or_after or now + timedelta(minutes=5),
        now=now,
    )
    if signed == "assertion":
        assertion = sign(assertion, key=key, cert=cert)
        assertion = assertion.split("?>", 1)[1] if assertion.startswith("<?xml") else assertion
    xml = response_xml(
        response_id=new_id(),
        destination=destination or acs,
        in_response_to=in_response_to,
        issuer=issuer,
        assertions=assertion,
        now=now,
    )
    if signed == "response":
        xml = sign(xml, key=key, cert=cert)
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()


def wrap_signature(saml_response: str, *, evil_email: str) -> str:
    """XML signature wrapping: the signed assertion stays (signature intact) and an unsigned forged one is
    put first, claiming another person."""
    doc = etree.fromstring(base64.b64decode(saml_response))
    signed = doc.find("saml:Assertion", NS)
    evil = etree.fromstring(etree.tostring(signed))
    evil.set("ID", new_id())
    for sig in evil.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        evil.remove(sig)
    evil.find("saml:Subject/saml:NameID", NS).text = evil_email
    for value in evil.iterfind(".//saml:Attribute[@Name='email']/saml:AttributeValue", NS):
        value.text = evil_email
    signed.addprevious(evil)
    return base64.b64encode(etree.tostring(doc)).decode()


def wrap_signature_nested(saml_response: str, *, evil_email: str) -> str:
    """Another wrapping: the forged assertion replaces the signed one, which hides inside the forged
    one's Subject (the signature still verifies over the original's ID)."""
    doc = etree.fromstring(base64.b64decode(saml_response))
    signed = doc.find("saml:Assertion", NS)
    evil = etree.fromstring(etree.tostring(signed))
    for sig in evil.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        evil.remove(sig)
    evil.set("ID", new_id())
    evil.find("saml:Subject/saml:NameID", NS).text = evil_email
    for value in evil.iterfind(".//saml:Attribute[@Name='email']/saml:AttributeValue", NS):
        value.text = evil_email
    signed_copy = etree.fromstring(etree.tostring(signed))
    doc.replace(signed, evil)
    evil.find("saml:Subject", NS).append(signed_copy)
    return base64.b64encode(etree.tostring(doc)).decode()


# --- driving Convene like a browser ------------------------------------------------------------------

SP_BASE = "http://testserver"


def browser(**kwargs):
    """A test client that sends a Host header, as every browser does (python3-saml reads it)."""
    from django.test import Client

    return Client(HTTP_HOST="testserver", **kwargs)


def configure(org, *, domains: tuple[str, ...] = ("acme.test",), **fields):
    """Give ``org`` this test IdP (entity id + SSO URL + certificate), its domains and a role mapping."""
    from accounts.models import SsoSource
    from accounts.sso import services

    settings = {"role_map": {"staff": "organizer", "admins": "admin"}, "attribute_groups": GROUPS_ATTRIBUTE, "enabled": True}
    settings.update(fields)
    idp = services.IdpInput(
        source=SsoSource.MANUAL, entity_id=IDP_ENTITY_ID, sso_url=IDP_SSO_URL, slo_url=IDP_SLO_URL, certificate=IDP_CERT
    )
    return services.sso_configuration_update(org=org, actor=None, idp=idp, domains=list(domains), **settings)


def start_login(client, email: str) -> str:
    """Continue with single sign-on from the login page; returns the AuthnRequest's ID."""
    response = client.post("/login/sso/", {"email": email})
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(IDP_SSO_URL + "?SAMLRequest=")
    return authn_request_id(response["Location"])


def post_to_acs(client, slug: str, saml_response: str, relay_state: str = ""):
    """POST the IdP's answer to the ACS like the browser's auto-submitted form, then follow to the end."""
    first = client.post(f"/accounts/saml/{slug}/acs/", {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert first.status_code == 302
    return client.get(first["Location"])
