"""PLACEHOLDER: to be implemented."""


def event_page(request, **kwargs):
    raise NotImplementedError


def registration_done(request, **kwargs):
    raise NotImplementedError
