"""PLACEHOLDER: to be implemented."""

from accounts.permissions import org_view


@org_view("events.view")
def checkin_index(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def checkin_desk(request, **kwargs):
    raise NotImplementedError


@org_view("events.view")
def checkin_perform(request, **kwargs):
    raise NotImplementedError

