from portal.errors import DomainError, InvalidState, PermissionDenied


class AlreadyMember(DomainError):
    code, status = "ALREADY_MEMBER", 409


class LastOwner(InvalidState):
    code = "LAST_OWNER"


class InvitationInvalid(DomainError):
    code, status = "INVITATION_INVALID", 404


class OwnerOnly(PermissionDenied):
    """Only an owner may create, change or remove an owner."""

    code = "OWNER_ONLY"


class SlugTaken(DomainError):
    code, status = "SLUG_TAKEN", 409


class InvalidScopes(DomainError):
    code, status = "INVALID_SCOPES", 422


class KeyModeMismatch(DomainError):
    """A ``cnv_test_`` key only ever acts for a sandbox organization, a live key only for a real one."""

    code, status = "KEY_MODE_MISMATCH", 422


class KeyInactive(InvalidState):
    """The key is revoked or expired: it can no longer be rolled."""

    code = "KEY_INACTIVE"


class AppNameTaken(DomainError):
    code, status = "APP_NAME_TAKEN", 409
