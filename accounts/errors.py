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
