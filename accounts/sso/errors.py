"""Errors of the SSO configuration services."""

from portal.errors import DomainError


class SsoInvalid(DomainError):
    """The identity provider's settings cannot be used (bad URL, metadata, certificate…)."""

    code, status = "SSO_INVALID", 422


class SsoDomainTaken(DomainError):
    code, status = "SSO_DOMAIN_TAKEN", 409


class SsoMetadataUnavailable(DomainError):
    code, status = "SSO_METADATA_UNAVAILABLE", 502
