from portal.errors import DomainError, InvalidState


class AlreadyMember(DomainError):
    code, status = "ALREADY_MEMBER", 409


class LastOwner(InvalidState):
    code = "LAST_OWNER"


class InvitationInvalid(DomainError):
    code, status = "INVITATION_INVALID", 404
