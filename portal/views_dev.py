"""The developer portal: sign-up into a sandbox, the developer home, apps and their keys, test events, the docs."""

from __future__ import annotations

import json
import re

from allauth.account.views import SignupView
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import API_SCOPES, ApiKey, App, Membership, Organization
from accounts.permissions import org_view
from events.forms import apply_domain_error
from events.models import CheckIn, Event, EventStatus, Registration, RegistrationStatus, Session, TicketType
from integrations import selectors as webhook_selectors
from integrations import services as webhook_services
from integrations.models import EVENT_TYPES
from portal import dev_docs
from portal.errors import DomainError
from portal.sandbox import developer_sandbox_create

#: what each scope lets a key do, shown beside its checkbox
SCOPE_HELP: dict[str, str] = {
    "events:read": "Read events, sessions, ticket types, speakers and statistics.",
    "events:write": "Create, change, publish and cancel events and sessions.",
    "registrations:read": "Read registrations, attendees and tickets.",
    "registrations:write": "Register attendees; change, confirm and cancel registrations.",
    "checkins:write": "Check tickets in at the door.",
    "payments:read": "Read payments.",
    "payments:write": "Record and refund payments (in a sandbox: the test card).",
    "users:read": "Read the organization's members and their roles.",
    "users:write": "Change members' roles.",
    "webhooks:read": "Read webhook endpoints and their deliveries.",
    "webhooks:write": "Create, change, test and delete webhook endpoints.",
}
#: the scopes of the "first test key" button: enough for the quick-start (read events, register, subscribe)
FIRST_KEY_SCOPES = ["events:read", "registrations:read", "registrations:write", "webhooks:read", "webhooks:write"]
FIRST_APP_NAME = "My first app"
GRACE_CHOICES = [("now", "Now"), ("1h", "In 1 hour"), ("24h", "In 24 hours"), ("7d", "In 7 days")]


class AppForm(forms.Form):
    name = forms.CharField(max_length=100, label="App name", help_text="What the integration is, e.g. “CRM sync”.")
    description = forms.CharField(max_length=300, required=False, label="Description")


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Key name", help_text="Where the key is used, e.g. “production server”.")
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in API_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        error_messages={"required": "Choose at least one scope."},
    )


class RollForm(forms.Form):
    grace = forms.ChoiceField(choices=GRACE_CHOICES, label="The old key stops working", initial="24h")


# --- Helpers ---------------------------------------------------------------------------------------


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _key_state(key: ApiKey, now) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None:
        return "expired" if key.expires_at <= now else "expiring"
    return "active"


def _keys_with_state(keys) -> list[ApiKey]:
    now = timezone.now()
    keys = list(keys)
    for key in keys:
        key.state = _key_state(key, now)
    return keys


def _scope_rows(form: KeyForm) -> list[tuple]:
    """(checkbox, scope, meaning) for the scope picker."""
    return [(box, box.data["value"], SCOPE_HELP.get(box.data["value"], "")) for box in form["scopes"]]


def _app_page(request: HttpRequest, app: App, *, form: KeyForm | None = None, new_secret: str = "", new_key=None):
    org = request.organization
    form = form or KeyForm(initial={"scopes": ["events:read"]})
    return render(
        request,
        "portal/dev_app_detail.html",
        {
            "nav": "developers",
            "tab": "apps",
            "app": app,
            "keys": _keys_with_state(account_selectors.api_key_list(org=org, app=app)),
            "form": form,
            "scope_rows": _scope_rows(form),
            "roll_form": RollForm(),
            "new_secret": new_secret,
            "new_key": new_key,
            "base_url": _base_url(request),
        },
    )


def _apps_page(request: HttpRequest, *, form: AppForm | None = None, new_secret: str = "", new_key=None, status=200):
    org = request.organization
    return render(
        request,
        "portal/dev_apps.html",
        {
            "nav": "developers",
            "tab": "apps",
            "apps": account_selectors.app_list(org=org),
            "loose_keys": _keys_with_state(account_selectors.api_key_list(org=org, without_app=True)),
            "form": form or AppForm(),
            "roll_form": RollForm(),
            "new_secret": new_secret,
            "new_key": new_key,
            "base_url": _base_url(request),
        },
        status=status,
    )


# --- Sign-up and sandbox ---------------------------------------------------------------------------


class DeveloperSignupView(SignupView):
    """allauth's sign-up (same form, same checks); the new account gets a sandbox and lands on its developer home."""

    template_name = "portal/dev_signup.html"

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        user = getattr(self, "user", None)
        if user is None or user.pk is None:
            return response
        org = developer_sandbox_create(user=user)
        if not self.request.user.is_authenticated:  # e.g. the e-mail address must be verified first
            return response
        messages.success(self.request, f"Welcome! “{org.name}” is yours: sample data, test keys only.")
        return redirect("dev-home", org.slug)


dev_signup = DeveloperSignupView.as_view()


@login_required
@require_POST
def sandbox_create(request: HttpRequest) -> HttpResponse:
    """A logged-in user (an organizer who also builds integrations) asks for a sandbox of their own."""
    org = developer_sandbox_create(user=request.user)
    messages.success(request, f"“{org.name}” is ready: sample data, test keys only.")
    return redirect("dev-home", org.slug)


# --- Developer home --------------------------------------------------------------------------------


def _sandbox_summary(org: Organization) -> dict:
    registrations = Registration.objects.for_org(org)
    return {
        "events": Event.objects.for_org(org).count(),
        "sessions": Session.objects.for_org(org).count(),
        "ticket_types": TicketType.objects.for_org(org).count(),
        "registrations": registrations.count(),
        "pending": registrations.filter(status=RegistrationStatus.PENDING_PAYMENT).count(),
        "checkins": CheckIn.objects.for_org(org).count(),
    }


def _first_ticket_type_id(org: Organization) -> int | None:
    """A free ticket type of a published event: what the quick-start's registration sample can really use."""
    return (
        TicketType.objects.for_org(org)
        .filter(price=0, event__status=EventStatus.PUBLISHED)
        .order_by("event__starts_at", "id")
        .values_list("pk", flat=True)
        .first()
    )


@org_view("apikeys.manage")
@require_http_methods(["GET"])
def dev_home(request: HttpRequest) -> HttpResponse:
    org = request.organization
    endpoints = list(webhook_selectors.webhook_endpoint_list(org=org))
    samples = dev_docs.quickstart_samples(base_url=_base_url(request))
    return render(
        request,
        "portal/dev_home.html",
        {
            "nav": "developers",
            "tab": "overview",
            "summary": _sandbox_summary(org) if org.is_sandbox else None,
            "has_keys": ApiKey.objects.for_org(org).filter(revoked_at=None).exists(),
            "apps": account_selectors.app_list(org=org)[:5],
            "first_sample": samples[0],
            "enabled_endpoints": [e for e in endpoints if e.enabled],
            "endpoint_count": len(endpoints),
            "event_type_count": len(EVENT_TYPES),
            "base_url": _base_url(request),
        },
    )


@org_view("apikeys.manage")
@require_POST
def first_key_create(request: HttpRequest) -> HttpResponse:
    """The developer home's one-click start: an app (made once) and a key that covers the quick-start."""
    org = request.organization
    app = App.objects.for_org(org).filter(name=FIRST_APP_NAME).first()
    if app is None:
        app = account_services.app_create(
            org=org, actor=request.user, name=FIRST_APP_NAME, description="Made by “Create a first key”."
        )
    name = "Sandbox key" if org.is_sandbox else "First key"
    key, secret = account_services.api_key_create(org=org, actor=request.user, name=name, scopes=FIRST_KEY_SCOPES, app=app)
    return _app_page(request, app, new_secret=secret, new_key=key)


@org_view("webhooks.manage")
@require_POST
def test_events_send(request: HttpRequest) -> HttpResponse:
    """Fire every webhook event type at each enabled endpoint, then show the delivery log."""
    org = request.organization
    endpoints = [e for e in webhook_selectors.webhook_endpoint_list(org=org) if e.enabled]
    if not endpoints:
        messages.error(request, "Add (or enable) a webhook endpoint first: test events go to your enabled endpoints.")
        return redirect("dev-home", org.slug)
    sent = 0
    for endpoint in endpoints:
        for event_type in EVENT_TYPES:
            try:
                webhook_services.webhook_endpoint_send_test(
                    org=org, actor=request.user, endpoint_id=endpoint.pk, event_type=event_type
                )
            except DomainError as exc:  # disabled meanwhile: skip it, say so
                messages.warning(request, f"{endpoint.url}: {exc.message}")
                break
            sent += 1
    plural = "s" if len(endpoints) != 1 else ""
    messages.success(request, f"{sent} test events are on their way to {len(endpoints)} endpoint{plural}.")
    return redirect("integrations:delivery-list", org.slug)


# --- Apps and keys ---------------------------------------------------------------------------------


@org_view("apikeys.manage")
@require_http_methods(["GET", "POST"])
def app_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _apps_page(request)
    form = AppForm(request.POST)
    if form.is_valid():
        try:
            app = account_services.app_create(
                org=request.organization,
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"“{app.name}” is created: now give it a key.")
            return redirect("dev-app-detail", request.organization.slug, app.pk)
    return _apps_page(request, form=form, status=422)


@org_view("apikeys.manage")
@require_http_methods(["GET", "POST"])
def app_detail(request: HttpRequest, app_id: int) -> HttpResponse:
    org = request.organization
    app = account_selectors.app_get(org=org, app_id=app_id)
    if request.method != "POST":
        return _app_page(request, app)
    form = KeyForm(request.POST)
    if form.is_valid():
        try:
            key, secret = account_services.api_key_create(
                org=org, actor=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], app=app
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            return _app_page(request, app, new_secret=secret, new_key=key)
    return _app_page(request, app, form=form)


@org_view("apikeys.manage")
@require_POST
def key_roll(request: HttpRequest, api_key_id: int) -> HttpResponse:
    org = request.organization
    old = account_selectors.api_key_get(org=org, api_key_id=api_key_id)
    form = RollForm(request.POST)
    grace = account_services.ROLL_GRACE_PERIODS[form.cleaned_data["grace"]] if form.is_valid() else None
    if grace is None:
        messages.error(request, "Choose when the old key stops working.")
    else:
        try:
            key, secret = account_services.api_key_roll(org=org, actor=request.user, api_key_id=old.pk, grace=grace)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if old.app is None:
                return _apps_page(request, new_secret=secret, new_key=key)
            return _app_page(request, old.app, new_secret=secret, new_key=key)
    if old.app is None:
        return redirect("dev-apps", org.slug)
    return redirect("dev-app-detail", org.slug, old.app.pk)


@org_view("apikeys.manage")
@require_POST
def key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    org = request.organization
    key = account_services.api_key_revoke(org=org, actor=request.user, api_key_id=api_key_id)
    messages.success(request, f"“{key.name}” ({key.display}) is revoked: requests with it are refused from now on.")
    if key.app_id is None:
        return redirect("dev-apps", org.slug)
    return redirect("dev-app-detail", org.slug, key.app_id)


# --- Docs (public) ---------------------------------------------------------------------------------


def _inline_code(text: str) -> SafeString:
    """`x` → <code>x</code>, everything else escaped."""
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))  # noqa: S308 - escaped first


def _my_sandbox(request: HttpRequest) -> Organization | None:
    if not request.user.is_authenticated:
        return None
    membership = (
        Membership.objects.filter(user=request.user, organization__is_sandbox=True)
        .select_related("organization")
        .order_by("created_at")
        .first()
    )
    return membership.organization if membership else None


def quickstart(request: HttpRequest) -> HttpResponse:
    """Public; for a developer with a sandbox, the samples use a real ticket type of it, so they run as they are."""
    sandbox = _my_sandbox(request)
    overrides = {"ticketTypeId": tt} if sandbox and (tt := _first_ticket_type_id(sandbox)) else {}
    return render(
        request,
        "portal/docs_quickstart.html",
        {
            "doc": "quickstart",
            "samples": dev_docs.quickstart_samples(base_url=_base_url(request), overrides=overrides),
            "base_url": _base_url(request),
            "sandbox": sandbox,
        },
    )


def error_reference(request: HttpRequest) -> HttpResponse:
    codes = [(e, _inline_code(e.meaning)) for e in dev_docs.error_codes()]
    return render(request, "portal/docs_errors.html", {"doc": "errors", "codes": codes})


def changelog(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/docs_changelog.html", {"doc": "changelog", "changelog": dev_docs.changelog_html()})


def openapi_download(request: HttpRequest) -> HttpResponse:
    """The OpenAPI document as a file to save (``/api/v1/openapi.json`` serves the same document to tools)."""
    body = json.dumps(dev_docs.openapi_schema(), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="convene-openapi-v1.json"'
    return response
