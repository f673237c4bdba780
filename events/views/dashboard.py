"""PLACEHOLDER: to be implemented."""

from accounts.permissions import org_view


@org_view("events.view")
def dashboard(request, **kwargs):
    raise NotImplementedError

