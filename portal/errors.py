"""The one error base class. Services raise these; the portal and the API translate them."""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"
    status = 400
    #: the form field the error belongs to, when there is one
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if field is not None:
            self.field = field


class NotFound(DomainError):
    code, status = "RESOURCE_NOT_FOUND", 404


class PermissionDenied(DomainError):
    code, status = "FORBIDDEN", 403


class Busy(DomainError):
    """A row lock could not be had in time: the caller should retry shortly."""

    code, status = "BUSY", 409
    retry_after = 1


class InvalidState(DomainError):
    code, status = "INVALID_STATE", 409
