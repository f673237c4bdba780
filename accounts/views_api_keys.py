"""The "API keys" page: create a key (shown once), see when each was last used, revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.models import API_SCOPES, ApiKey
from accounts.permissions import org_view
from events.forms import apply_domain_error
from portal.errors import DomainError


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="What the key is for, e.g. “CRM sync”.")
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in API_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        error_messages={"required": "Choose at least one scope."},
    )
    test = forms.BooleanField(required=False, label="Test key (cnv_test_…)")


@org_view("apikeys.manage")
@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = ApiKeyForm(request.POST or None, initial={"scopes": ["events:read"]})
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _key, new_secret = services.api_key_create(
                org=org,
                actor=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                test=form.cleaned_data["test"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            form = ApiKeyForm(initial={"scopes": ["events:read"]})
    keys = ApiKey.objects.for_org(org).select_related("created_by")
    return render(
        request,
        "accounts/api_keys.html",
        {
            "nav": "api-keys",
            "form": form,
            "keys": keys,
            "new_secret": new_secret,
            "api_base": request.build_absolute_uri("/api/v1/"),
        },
    )


@org_view("apikeys.manage")
@require_POST
def api_key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    org = request.organization
    key = services.api_key_revoke(org=org, actor=request.user, api_key_id=api_key_id)
    messages.success(request, f"“{key.name}” is revoked: requests with it are refused from now on.")
    return redirect("accounts:api-key-list", org.slug)
