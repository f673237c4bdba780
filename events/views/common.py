"""Helpers shared by the organizer portal views."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from events import selectors
from events.models import Event


def current_event(request: HttpRequest, event_id: int) -> Event:
    """The event in the URL, scoped to the caller's organization (another tenant's id: 404)."""
    return selectors.event_get(org=request.organization, event_id=event_id)


def paginate(request: HttpRequest, qs, per_page: int = 25) -> Page:
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])
