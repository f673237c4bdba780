from portal.errors import DomainError, InvalidState


class ValidationFailed(DomainError):
    code, status = "VALIDATION_ERROR", 422


class TicketTypeSoldOut(DomainError):
    code, status = "SOLD_OUT", 409


class SessionFull(DomainError):
    code, status = "SESSION_FULL", 409


class SalesNotOpen(DomainError):
    code, status = "SALES_NOT_OPEN", 409


class SalesClosed(DomainError):
    code, status = "SALES_CLOSED", 409


class EventNotOpen(DomainError):
    """The event is a draft or cancelled: nobody can register."""

    code, status = "EVENT_NOT_OPEN", 409


class AlreadyCheckedIn(DomainError):
    code, status = "ALREADY_CHECKED_IN", 409


class RegistrationCancelled(DomainError):
    code, status = "REGISTRATION_CANCELLED", 409


class RegistrationNotConfirmed(DomainError):
    code, status = "REGISTRATION_NOT_CONFIRMED", 409


class EventStateError(InvalidState):
    code = "INVALID_EVENT_STATE"
