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


class AlreadyRegistered(DomainError):
    """Another active registration of the same ticket type already uses this e-mail address."""

    code, status = "ALREADY_REGISTERED", 409


class BatchFailed(DomainError):
    """An all-or-nothing batch had failing items: nothing was written."""

    code, status = "BATCH_FAILED", 409


class PaymentNotRefundable(InvalidState):
    code = "PAYMENT_NOT_REFUNDABLE"


class InvalidTicket(DomainError):
    """A ticket token that is damaged, forged, or not one of this organization's."""

    code, status = "INVALID_TICKET", 422


class WrongEvent(DomainError):
    """A genuine ticket, but for another event than the one being checked in."""

    code, status = "WRONG_EVENT", 409


class TicketUnavailable(DomainError):
    """No valid ticket any more: the registration or the event was cancelled."""

    code, status = "TICKET_NOT_AVAILABLE", 410
