"""Writes for single sign-on: an organization's SAML identity provider, its domains and its mapping.

The identity provider can be given three ways (a metadata URL, pasted metadata XML, or entity id + SSO
URL + certificate); whichever way, the result is stored as plain settings and copied into the
organization's allauth ``SocialApp`` (provider ``saml``, provider id and client id = the organization's
slug), which serves ``/accounts/saml/<slug>/{login,acs,sls,metadata}/``. Logins never fetch anything.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.socialaccount.models import SocialApp
from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from accounts.models import (
    Membership,
    Organization,
    Role,
    SsoAssertion,
    SsoConfiguration,
    SsoDomain,
    SsoProtocol,
    SsoSource,
    User,
)
from accounts.services import audit_log
from accounts.sso import oidc
from accounts.sso.errors import SsoDomainTaken, SsoInvalid, SsoMetadataUnavailable

#: the most a metadata document may weigh (real ones are a few kilobytes)
METADATA_MAX_BYTES = 1_000_000
#: fields of SsoConfiguration the update service may set besides the identity provider's
SETTING_FIELDS = (
    "attribute_email",
    "attribute_first_name",
    "attribute_last_name",
    "attribute_groups",
    "role_map",
    "default_role",
    "require_sso",
    "allow_idp_initiated",
    "enabled",
    "protocol",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
)
IDP_FIELDS = ("source", "metadata_url", "metadata_xml", "idp_entity_id", "sso_url", "slo_url", "x509_certificate")
#: when a user is in several mapped groups, the most powerful role wins
ROLE_RANK = (Role.OWNER, Role.ADMIN, Role.ORGANIZER, Role.DEVELOPER, Role.CHECKIN, Role.VIEWER)
#: mailbox providers no organization can claim: their users are not anyone's employees
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "yandex.ru",
        "mail.ru",
        "qq.com",
    }
)
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


@dataclass(frozen=True)
class IdpInput:
    """The identity provider as the owner gave it: one of the three sources and its values."""

    source: str
    metadata_url: str = ""
    metadata_xml: str = ""
    entity_id: str = ""
    sso_url: str = ""
    slo_url: str = ""
    certificate: str = ""


@dataclass(frozen=True)
class IdpSettings:
    source: str
    metadata_url: str
    metadata_xml: str
    idp_entity_id: str
    sso_url: str
    slo_url: str
    x509_certificate: str


# --- validation (no database, no transaction) --------------------------------------------------------


def certificate_normalize(text: str, *, field: str = "certificate") -> str:
    """The certificate's base64 body (what SAML settings want), from PEM with or without its header lines."""
    body = re.sub(r"-----(BEGIN|END) CERTIFICATE-----", "", text or "")
    body = "".join(body.split())
    if not body:
        raise SsoInvalid("Paste the identity provider's signing certificate.", field=field)
    try:
        x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
    except ValueError as exc:
        raise SsoInvalid("This is not an X.509 certificate (PEM or base64).", field=field) from exc
    return body


def certificate_info(body: str) -> dict:
    """Subject and validity of a stored certificate, for the settings page."""
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(body))
    except ValueError:
        return {}
    return {
        "subject": cert.subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc,
        "expired": cert.not_valid_after_utc <= timezone.now(),
    }


def url_check(url: str, *, field: str, required: bool = True) -> str:
    url = (url or "").strip()
    if not url:
        if required:
            raise SsoInvalid("This URL is required.", field=field)
        return ""
    if url.startswith("http://") and not settings.SSO_ALLOW_HTTP:
        raise SsoInvalid("Use an https:// address.", field=field)
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", url):
        raise SsoInvalid("Enter a full URL, starting with https://.", field=field)
    return url


def metadata_parse(xml: str, *, field: str = "metadata_xml") -> dict:
    """Entity id, SSO URL (HTTP-Redirect), SLO URL and signing certificate from IdP metadata XML."""
    if not (xml or "").strip():
        raise SsoInvalid("Paste the identity provider's metadata XML.", field=field)
    try:
        data = OneLogin_Saml2_IdPMetadataParser.parse(xml.strip().encode())
    except Exception as exc:  # lxml's and python3-saml's parse errors have no common base
        raise SsoInvalid("This is not valid SAML metadata XML.", field=field) from exc
    idp = data.get("idp") or {}
    if not idp.get("entityId"):
        raise SsoInvalid("The metadata has no identity provider (IDPSSODescriptor).", field=field)
    sso = (idp.get("singleSignOnService") or {}).get("url", "")
    if not sso:
        raise SsoInvalid("The metadata has no single sign-on service with the HTTP-Redirect binding.", field=field)
    cert = idp.get("x509cert") or ((idp.get("x509certMulti") or {}).get("signing") or [""])[0]
    if not cert:
        raise SsoInvalid("The metadata has no signing certificate.", field=field)
    return {
        "entity_id": idp["entityId"],
        "sso_url": sso,
        "slo_url": (idp.get("singleLogoutService") or {}).get("url", ""),
        "certificate": cert,
    }


def sso_metadata_fetch(*, url: str) -> str:
    """GET the metadata document at ``url`` (public addresses only, unless private ones are allowed)."""
    from integrations.webhooks import UnsafeTarget, resolve_target

    url = url_check(url, field="metadata_url")
    allow_private = settings.SSO_ALLOW_HTTP or settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS
    try:
        resolve_target(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        raise SsoInvalid(str(exc), field="metadata_url") from exc
    request = urllib.request.Request(url, headers={"Accept": "application/samlmetadata+xml, application/xml, text/xml"})  # noqa: S310 (scheme checked above)
    try:
        with urllib.request.urlopen(request, timeout=settings.SSO_METADATA_TIMEOUT) as response:  # noqa: S310
            body = response.read(METADATA_MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SsoMetadataUnavailable(f"The metadata could not be fetched: {exc}", field="metadata_url") from exc
    if len(body) > METADATA_MAX_BYTES:
        raise SsoInvalid("The metadata document is too large.", field="metadata_url")
    return body.decode("utf-8", errors="replace")


def idp_resolve(idp: IdpInput) -> IdpSettings:
    """Turn what the owner gave into stored settings, fetching the metadata URL when that is the source.

    Network I/O: call outside any transaction.
    """
    if idp.source == SsoSource.METADATA_URL:
        url = url_check(idp.metadata_url, field="metadata_url")
        xml = sso_metadata_fetch(url=url)
        parsed = metadata_parse(xml, field="metadata_url")
    elif idp.source == SsoSource.METADATA_XML:
        url, xml = "", idp.metadata_xml.strip()
        parsed = metadata_parse(xml)
    elif idp.source == SsoSource.MANUAL:
        url, xml = "", ""
        entity_id = idp.entity_id.strip()
        if not entity_id:
            raise SsoInvalid("The identity provider's entity ID is required.", field="entity_id")
        parsed = {"entity_id": entity_id, "sso_url": idp.sso_url, "slo_url": idp.slo_url, "certificate": idp.certificate}
    else:
        raise SsoInvalid("Choose how to give the identity provider.", field="source")
    field = {"metadata_url": "metadata_url", "metadata_xml": "metadata_xml"}.get(idp.source)
    return IdpSettings(
        source=idp.source,
        metadata_url=url,
        metadata_xml=xml,
        idp_entity_id=parsed["entity_id"][:500],
        sso_url=url_check(parsed["sso_url"], field=field or "sso_url"),
        slo_url=url_check(parsed["slo_url"], field=field or "slo_url", required=False),
        x509_certificate=certificate_normalize(parsed["certificate"], field=field or "certificate"),
    )


def oidc_fields_check(fields: dict) -> None:
    """Validate the protocol and the OpenID Connect settings among ``fields`` (in place)."""
    if "protocol" in fields and fields["protocol"] not in SsoProtocol.values:
        raise SsoInvalid("Choose SAML 2.0 or OpenID Connect.", field="protocol")
    if "oidc_issuer" in fields:
        issuer = url_check(str(fields["oidc_issuer"]), field="oidc_issuer", required=False).rstrip("/")
        fields["oidc_issuer"] = issuer.removesuffix("/.well-known/openid-configuration")
    if "oidc_client_id" in fields:
        fields["oidc_client_id"] = str(fields["oidc_client_id"]).strip()
    if "oidc_client_secret" in fields:
        fields["oidc_client_secret"] = str(fields["oidc_client_secret"]).strip()


def domains_normalize(domains: list[str]) -> list[str]:
    result = []
    for raw in domains:
        domain = raw.strip().lower().lstrip("@").rstrip(".")
        if not domain:
            continue
        if not _DOMAIN_RE.match(domain):
            raise SsoInvalid(f"“{raw.strip()}” is not a domain name (like example.com).", field="domains")
        if domain in PUBLIC_MAIL_DOMAINS:
            raise SsoInvalid(f"{domain} is a public mailbox provider: no organization can claim it.", field="domains")
        if domain not in result:
            result.append(domain)
    return result


def attribute_names(value: str) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def role_map_check(role_map: dict) -> dict:
    clean = {}
    for group, role in (role_map or {}).items():
        group = str(group).strip()
        if not group:
            continue
        if role not in Role.values:
            raise SsoInvalid(f"“{role}” is not a role (use one of {', '.join(Role.values)}).", field="role_map")
        clean[group] = role
    return clean


def role_for_groups(config: SsoConfiguration, groups: list[str]) -> str | None:
    """The role the IdP's groups give (the most powerful of the mapped ones), else the default role, else None."""
    mapped = {config.role_map[g] for g in groups if g in config.role_map}
    for role in ROLE_RANK:
        if role in mapped:
            return role
    return config.default_role or None


# --- configuration -----------------------------------------------------------------------------------


def sso_configuration_update(
    *,
    org: Organization,
    actor: User | None,
    idp: IdpInput | None = None,
    domains: list[str] | None = None,
    **fields: object,
) -> SsoConfiguration:
    """Create or change the organization's SSO configuration; None / absent arguments keep their value.

    ``fields`` are among ``SETTING_FIELDS``. The metadata URL, when that is the source, is fetched first,
    outside the transaction that stores everything, syncs the SocialApp and writes the audit entry.
    """
    unknown = set(fields) - set(SETTING_FIELDS)
    if unknown:
        raise TypeError(f"unknown SSO settings: {', '.join(sorted(unknown))}")
    resolved = idp_resolve(idp) if idp is not None else None
    clean_domains = domains_normalize(domains) if domains is not None else None
    if "role_map" in fields:
        fields["role_map"] = role_map_check(fields["role_map"])  # type: ignore[arg-type]
    if fields.get("default_role") and fields["default_role"] not in Role.values:
        raise SsoInvalid("Choose one of the roles.", field="default_role")
    for name in ("attribute_email", "attribute_first_name", "attribute_last_name", "attribute_groups"):
        if name in fields:
            fields[name] = ",".join(attribute_names(str(fields[name])))
    if fields.get("attribute_email") == "":
        raise SsoInvalid("Name the attribute that carries the e-mail address.", field="attribute_email")
    oidc_fields_check(fields)
    return _sso_configuration_save(org=org, actor=actor, idp=resolved, domains=clean_domains, fields=fields)


@transaction.atomic(durable=True)
def _sso_configuration_save(
    *, org: Organization, actor: User | None, idp: IdpSettings | None, domains: list[str] | None, fields: dict
) -> SsoConfiguration:
    config = SsoConfiguration.objects.for_org(org).select_for_update().first()
    created = config is None
    if config is None:
        config = SsoConfiguration(organization=org)
    changes: dict[str, object] = {}
    new_values = dict(fields)
    if idp is not None:
        new_values.update({name: getattr(idp, name) for name in IDP_FIELDS})
    for name, value in new_values.items():
        old = getattr(config, name)
        if old == value:
            continue
        setattr(config, name, value)
        if name in ("x509_certificate", "metadata_xml", "oidc_client_secret"):
            changes[name] = "changed"  # never the certificate, document body or secret
        else:
            changes[name] = [old, value]
    if domains is not None:
        old_domains = list(SsoDomain.objects.for_org(org).order_by("domain").values_list("domain", flat=True))
        if sorted(domains) != old_domains:
            taken = (
                SsoDomain.objects.filter(domain__in=domains).exclude(organization=org).values_list("domain", flat=True).first()
            )
            if taken:
                raise SsoDomainTaken(f"{taken} is already used by another organization.", field="domains")
            changes["domains"] = [old_domains, sorted(domains)]
    final_domains = sorted(domains) if domains is not None else sso_domains(org)
    if config.enabled and not config.is_complete:
        raise SsoInvalid("Give the identity provider before switching single sign-on on.", field="enabled")
    if config.enabled and not final_domains:
        raise SsoInvalid("Add at least one e-mail domain before switching single sign-on on.", field="enabled")
    if not changes and not created:
        return config
    config.updated_at = timezone.now()
    config.save()
    if "domains" in changes:
        SsoDomain.objects.for_org(org).exclude(domain__in=final_domains).delete()
        try:
            with transaction.atomic():
                for domain in final_domains:
                    SsoDomain.objects.get_or_create(domain=domain, defaults={"organization": org})
        except IntegrityError as exc:  # another organization claimed it a moment ago
            raise SsoDomainTaken("One of these domains was just claimed by another organization.", field="domains") from exc
    social_app_sync(config=config, domains=final_domains)
    audit_log(
        org=org, actor=actor, action="accounts.sso.updated", obj=config, changes=changes, actor_label="" if actor else "system"
    )
    return config


def sso_domains(org: Organization) -> list[str]:
    return list(SsoDomain.objects.for_org(org).order_by("domain").values_list("domain", flat=True))


def social_app_settings(*, config: SsoConfiguration, domains: list[str]) -> dict:
    """The allauth SAML app settings this configuration stands for."""
    idp = {"entity_id": config.idp_entity_id, "sso_url": config.sso_url, "x509cert": config.x509_certificate}
    if config.slo_url:
        idp["slo_url"] = config.slo_url
    return {
        # never listed as a button on the login page: users are routed by their e-mail's domain
        "hidden": True,
        "idp": idp,
        "attribute_mapping": {
            "email": attribute_names(config.attribute_email),
            "first_name": attribute_names(config.attribute_first_name),
            "last_name": attribute_names(config.attribute_last_name),
        },
        # an address the IdP asserts is verified only in the organization's own domains
        "verified_email": list(domains),
        "use_nameid_for_email": False,
        "advanced": {
            "strict": True,
            "reject_idp_initiated_sso": not config.allow_idp_initiated,
            "allow_single_label_domains": bool(settings.SSO_ALLOW_HTTP),
            "reject_deprecated_algorithm": True,
            "want_attribute_statement": False,
        },
    }


def social_app_sync(*, config: SsoConfiguration, domains: list[str]) -> SocialApp | None:
    """Create, update or remove the organization's SocialApp so that it says what ``config`` says.

    Without a complete identity provider there is no app (the SAML URLs answer 404).
    """
    slug = config.organization.slug
    oidc.oidc_app_sync(config=config)
    apps = SocialApp.objects.filter(provider="saml", provider_id=slug)
    if config.protocol != SsoProtocol.SAML or not config.saml_is_complete:
        apps.delete()
        return None
    app = apps.first() or SocialApp(provider="saml", provider_id=slug)
    app.name = config.organization.name[:40]
    app.client_id = slug
    app.settings = social_app_settings(config=config, domains=domains)
    app.save()
    return app


# --- sign-in ------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def sso_login_refuse(
    *, org: Organization, reason: str, detail: str = "", email: str = "", name_id: str = "", user: User | None = None
) -> None:
    """Record a refused SSO sign-in (never its assertion): who tried, why."""
    audit_log(
        org=org,
        actor=user,
        actor_label=email or name_id or "sso",
        action="accounts.sso.login_refused",
        changes={"reason": reason, "detail": detail[:500], "email": email, "name_id": name_id[:200]},
    )


def sso_assertion_record(*, org: Organization, assertion_id: str, not_on_or_after: datetime | None) -> bool:
    """Remember a used assertion id; False when it was used already (a replay).

    Runs in its own transaction; expired ids are dropped on the way (they cannot be replayed anyway:
    python3-saml refuses expired assertions).
    """
    now = timezone.now()
    expires = not_on_or_after or now + timedelta(hours=1)
    try:
        with transaction.atomic(durable=True):
            SsoAssertion.objects.filter(expires_at__lt=now - timedelta(minutes=10)).delete()
            SsoAssertion.objects.create(organization=org, assertion_id=assertion_id[:200], expires_at=expires)
    except IntegrityError:
        return False
    return True


@transaction.atomic(durable=True)
def sso_test_record(*, org: Organization, actor: User, report: dict) -> None:
    audit_log(
        org=org,
        actor=actor,
        action="accounts.sso.test_sign_in",
        changes={"name_id": report.get("name_id", ""), "email": report.get("email", ""), "role": report.get("role") or ""},
    )


def _membership_sync(*, org: Organization, user: User, role: str | None, groups: list[str]) -> tuple[str, Membership | None]:
    """Give ``user`` the role the IdP's groups map to, or take the membership away. Inside a transaction.

    Returns what happened: ``created``, ``changed``, ``unchanged``, ``removed``, ``none`` or ``kept_last_owner``
    (the only owner is never demoted nor removed by a sign-in: the organization would be locked out).
    """
    membership = Membership.objects.for_org(org).select_for_update().filter(user=user).first()
    if role is None:
        if membership is None:
            return "none", None
        if (
            membership.role == Role.OWNER
            and not Membership.objects.for_org(org).filter(role=Role.OWNER).exclude(pk=membership.pk).exists()
        ):
            audit_log(
                org=org,
                actor=user,
                action="accounts.sso.role_sync_skipped",
                obj=membership,
                changes={"groups": groups, "reason": "last owner"},
            )
            return "kept_last_owner", membership
        audit_log(
            org=org,
            actor=user,
            action="accounts.sso.membership_removed",
            obj=membership,
            changes={"email": user.email, "role": membership.role, "groups": groups},
        )
        membership.delete()
        return "removed", None
    if membership is None:
        membership = Membership.objects.create(organization=org, user=user, role=role)
        audit_log(
            org=org,
            actor=user,
            action="accounts.membership.created",
            obj=membership,
            changes={"role": role, "via": "sso", "groups": groups},
        )
        return "created", membership
    if membership.role == role:
        return "unchanged", membership
    if (
        membership.role == Role.OWNER
        and not Membership.objects.for_org(org).filter(role=Role.OWNER).exclude(pk=membership.pk).exists()
    ):
        audit_log(
            org=org,
            actor=user,
            action="accounts.sso.role_sync_skipped",
            obj=membership,
            changes={"groups": groups, "reason": "last owner"},
        )
        return "kept_last_owner", membership
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_log(
        org=org,
        actor=user,
        action="accounts.membership.role_changed",
        obj=membership,
        changes={"role": [old, role], "via": "sso", "groups": groups},
    )
    return "changed", membership


@transaction.atomic(durable=True)
def sso_membership_sync(
    *, org: Organization, user: User, role: str | None, groups: list[str], linked: bool = False
) -> tuple[str, Membership | None]:
    """A returning (or newly linked) user's sign-in: re-sync the role from the groups and audit the login."""
    outcome, membership = _membership_sync(org=org, user=user, role=role, groups=groups)
    if linked:
        audit_log(org=org, actor=user, action="accounts.sso.account_linked", changes={"email": user.email})
    if membership is not None:
        audit_log(
            org=org,
            actor=user,
            action="accounts.sso.login",
            changes={"email": user.email, "role": membership.role, "groups": groups},
        )
    return outcome, membership


def sso_user_provision(*, org: Organization, user: User, role: str, groups: list[str]) -> Membership:
    """A first sign-in: the new user's membership and the login's audit entry (inside the caller's transaction)."""
    _, membership = _membership_sync(org=org, user=user, role=role, groups=groups)
    audit_log(
        org=org,
        actor=user,
        action="accounts.sso.login",
        changes={"email": user.email, "role": role, "groups": groups, "new_user": True},
    )
    return membership


@transaction.atomic(durable=True)
def sso_password_login_refuse(*, org: Organization, email: str) -> None:
    audit_log(org=org, actor=None, actor_label=email, action="accounts.sso.password_login_refused", changes={"email": email})


# --- single logout ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def sso_logout_record(*, org: Organization, actor: User | None, initiated_by: str, name_id: str = "", sessions: int = 0) -> None:
    """Record a single logout: ``initiated_by`` is ``sp`` (the user logged out here) or ``idp``."""
    audit_log(
        org=org,
        actor=actor,
        actor_label="" if actor is not None else (name_id[:200] or "sso"),
        action="accounts.sso.logout",
        changes={"initiated_by": initiated_by, "name_id": name_id[:200], "sessions_ended": sessions},
    )


@transaction.atomic(durable=True)
def sso_logout_refuse(*, org: Organization, detail: str, kind: str) -> None:
    """Record a logout message from the IdP that failed validation (``kind``: request or response)."""
    audit_log(
        org=org,
        actor=None,
        actor_label="sso",
        action="accounts.sso.logout_refused",
        changes={"kind": kind, "detail": detail[:500]},
    )
