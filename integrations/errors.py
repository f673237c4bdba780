from portal.errors import DomainError, InvalidState


class InvalidWebhookUrl(DomainError):
    code, status = "INVALID_WEBHOOK_URL", 422


class InvalidEventTypes(DomainError):
    code, status = "INVALID_EVENT_TYPES", 422


class EndpointDisabled(InvalidState):
    code = "WEBHOOK_ENDPOINT_DISABLED"
