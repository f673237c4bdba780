"""Reads for single sign-on: which organization an e-mail belongs to, and its configuration."""

from __future__ import annotations

from accounts.models import Organization, SsoConfiguration, SsoDomain


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower().rstrip(".")


def sso_configuration_get(*, org: Organization) -> SsoConfiguration | None:
    return SsoConfiguration.objects.for_org(org).select_related("organization").first()


def sso_domain_list(*, org: Organization) -> list[str]:
    return list(SsoDomain.objects.for_org(org).order_by("domain").values_list("domain", flat=True))


def sso_configuration_for_email(*, email: str) -> SsoConfiguration | None:
    """The enabled configuration of the organization owning ``email``'s domain, if any."""
    domain = email_domain(email)
    if not domain:
        return None
    row = SsoDomain.objects.select_related("organization").filter(domain=domain).first()
    if row is None:
        return None
    config = sso_configuration_get(org=row.organization)
    return config if config is not None and config.enabled else None


def sso_configuration_for_slug(*, slug: str) -> SsoConfiguration | None:
    return SsoConfiguration.objects.select_related("organization").filter(organization__slug=slug).first()


def sso_required_for_email(*, email: str) -> SsoConfiguration | None:
    """The configuration that forbids ``email`` a password login, if one does."""
    config = sso_configuration_for_email(email=email)
    return config if config is not None and config.require_sso else None
