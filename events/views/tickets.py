"""PLACEHOLDER: to be implemented."""

from accounts.permissions import org_view


@org_view("events.view")
def ticket_type_list(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def ticket_type_create(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def ticket_type_edit(request, **kwargs):
    raise NotImplementedError

