"""The former "API keys" page: keys now live in apps on the developer pages (``dev-apps``); old links land there."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts import services
from accounts.permissions import org_view


@org_view("apikeys.manage")
def api_key_list(request: HttpRequest) -> HttpResponse:
    return redirect("dev-apps", request.organization.slug)


@org_view("apikeys.manage")
@require_POST
def api_key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    org = request.organization
    key = services.api_key_revoke(org=org, actor=request.user, api_key_id=api_key_id)
    messages.success(request, f"“{key.name}” is revoked: requests with it are refused from now on.")
    return redirect("dev-apps", org.slug)
