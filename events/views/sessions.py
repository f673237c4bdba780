"""PLACEHOLDER: to be implemented."""

from accounts.permissions import org_view


@org_view("events.view")
def session_list(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def session_create(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def session_row(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def session_edit(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def session_cancel(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def speaker_create(request, **kwargs):
    raise NotImplementedError

