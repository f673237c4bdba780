from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from accounts.models import Membership
from accounts.permissions import has_perm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Land on the first organization's dashboard (door staff: on the check-in page)."""
    membership = Membership.objects.filter(user=request.user).select_related("organization").order_by("created_at").first()
    if membership is None:
        return redirect("accounts:organization-create")
    if has_perm(membership.role, "dashboard.view"):
        return redirect("events:dashboard", membership.organization.slug)
    return redirect("events:checkin-index", membership.organization.slug)


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def bench_json(request: HttpRequest) -> JsonResponse:
    """The API benchmark's yardstick: a JSON answer with no database, mounted only when CONVENE_BENCH=1."""
    return JsonResponse({"status": "ok", "items": list(range(10))})
