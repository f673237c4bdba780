"""PLACEHOLDER: to be implemented."""

from accounts.permissions import org_view


@org_view("events.view")
def registration_list(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def registration_export(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def registration_bulk(request, **kwargs):
    raise NotImplementedError

