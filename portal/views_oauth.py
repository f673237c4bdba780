"""OAuth 2.0 pages and endpoints: an app's clients, the consent screen, the user's authorized apps, the JWKS,
the discovery documents and token introspection. Token issuing and revocation are the toolkit's views."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from oauth2_provider.forms import AllowForm
from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.views import AuthorizationView
from oauthlib.common import Request as OauthlibRequest

from accounts.models import API_SCOPES, App, Organization
from accounts.permissions import org_view
from events.forms import apply_domain_error
from portal.errors import DomainError
from portal.oauth import selectors, services
from portal.oauth.keys import jwks, signing_key
from portal.oauth.scopes import SCOPE_DESCRIPTIONS, scopes_describe
from portal.oauth.tokens import access_token_claims, looks_like_jwt, principal_from_access_token, token_checksum

# --- An app's OAuth clients (developer portal) ---------------------------------------------------------------

DEV_TABS = "portal/_dev_tabs.html"


def _dev_tabs() -> str | None:
    """The developer pages' tab bar (included when it exists)."""
    try:
        get_template(DEV_TABS)
    except TemplateDoesNotExist:
        return None
    return DEV_TABS


class OAuthClientForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="Shown to users on the consent screen.")
    grant_type = forms.ChoiceField(
        label="Grant type",
        choices=[
            (services.GRANT_AUTHORIZATION_CODE, "Authorization code with PKCE: acts for a user who signs in and agrees"),
            (services.GRANT_CLIENT_CREDENTIALS, "Client credentials: a server acting for this organization"),
        ],
        widget=forms.RadioSelect,
        initial=services.GRANT_AUTHORIZATION_CODE,
    )
    redirect_uris = forms.CharField(
        required=False,
        label="Redirect URIs",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://example.com/oauth/callback"}),
        help_text="One per line; authorization code only. Exact match, https (or http://127.0.0.1 for a local app).",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope} · {SCOPE_DESCRIPTIONS[scope]}") for scope in API_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        label="Allowed scopes",
        help_text="The most this client may ask for.",
        error_messages={"required": "Choose at least one scope."},
    )


@org_view("apikeys.manage")
@require_http_methods(["GET", "POST"])
def oauth_client_list(request: HttpRequest, app_id: int) -> HttpResponse:
    org = request.organization
    app = get_object_or_404(App.objects.for_org(org), pk=app_id)
    form = OAuthClientForm(request.POST or None, initial={"scopes": ["events:read"]})
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            client, secret = services.oauth_client_create(
                org=org,
                actor=request.user,
                app_id=app.pk,
                name=form.cleaned_data["name"],
                grant_type=form.cleaned_data["grant_type"],
                scopes=form.cleaned_data["scopes"],
                redirect_uris=form.cleaned_data["redirect_uris"].split(),
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            created = {"client": client, "secret": secret}
            form = OAuthClientForm(initial={"scopes": ["events:read"]})
    return render(
        request,
        "oauth/clients.html",
        {
            "nav": "developers",
            "dev_tab": "apps",
            "dev_tabs": _dev_tabs(),
            "app": app,
            "clients": selectors.oauth_client_list(org=org, app=app),
            "form": form,
            "created": created,
            "issuer": settings.OAUTH_ISSUER,
            "token_url": settings.OAUTH_ISSUER + reverse("oauth:token"),
            "authorize_url": settings.OAUTH_ISSUER + reverse("oauth:authorize"),
            "discovery_url": settings.OAUTH_ISSUER + reverse("oauth:openid-configuration"),
        },
    )


@org_view("apikeys.manage")
@require_POST
def oauth_client_delete(request: HttpRequest, app_id: int, client_id: int) -> HttpResponse:
    org = request.organization
    client = get_object_or_404(
        selectors.oauth_client_list(org=org, app=get_object_or_404(App.objects.for_org(org), pk=app_id)), pk=client_id
    )
    name = str(client)
    services.oauth_client_delete(org=org, actor=request.user, client_id=client.pk)
    messages.success(request, f"“{name}” is deleted: its tokens are refused from now on.")
    return redirect("oauth:client-list", org.slug, app_id)


# --- The consent screen --------------------------------------------------------------------------------------


class ConsentForm(AllowForm):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), required=False, empty_label=None)

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["organization"].queryset = Organization.objects.filter(memberships__user=user)


class AuthorizeView(AuthorizationView):
    """/oauth/authorize: who asks, for what (in words), for which of the user's organizations; Allow or Deny."""

    template_name = "oauth/authorize.html"
    form_class = ConsentForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def _consent_context(self, client_id: str, scopes: list[str]) -> dict:
        client = selectors.oauth_client_get_by_client_id(client_id=client_id)
        if client is None:
            return {}
        return {
            "client": client,
            "scope_list": scopes_describe(scopes),
            "organizations": selectors.oauth_consent_organizations(user=self.request.user, client=client, scopes=scopes),
        }

    def get_context_data(self, **kwargs: Any) -> dict:
        context = super().get_context_data(**kwargs)
        if "error" not in context and context.get("client_id"):
            context.update(self._consent_context(context["client_id"], list(context.get("scopes") or [])))
        return context

    def form_valid(self, form: ConsentForm) -> HttpResponse:
        if form.cleaned_data.get("allow"):
            client = selectors.oauth_client_get_by_client_id(client_id=form.cleaned_data["client_id"])
            organization = form.cleaned_data.get("organization")
            if client is None:
                form.add_error(None, "This application no longer exists.")
                return self.form_invalid(form)
            if organization is None:
                form.add_error("organization", "Choose the organization the application will act for.")
                return self.form_invalid(form)
            try:
                services.oauth_consent_grant(
                    user=self.request.user, client=client, org=organization, scopes=form.cleaned_data["scope"].split()
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                return self.form_invalid(form)
        return super().form_valid(form)

    def form_invalid(self, form: ConsentForm) -> HttpResponse:
        scopes = (form.data.get("scope") or "").split()
        context = {"form": form, "scopes": scopes, **self._consent_context(form.data.get("client_id", ""), scopes)}
        return self.render_to_response(context, status=400)


# --- The user's authorized apps --------------------------------------------------------------------------------


@login_required
@require_GET
def authorized_apps(request: HttpRequest) -> HttpResponse:
    consents = selectors.oauth_consent_list(user=request.user)
    return render(
        request,
        "oauth/authorized_apps.html",
        {"consents": [(consent, scopes_describe(consent.scopes)) for consent in consents]},
    )


@login_required
@require_POST
def authorized_app_revoke(request: HttpRequest, consent_id: int) -> HttpResponse:
    consent = get_object_or_404(selectors.oauth_consent_list(user=request.user), pk=consent_id)
    services.oauth_consent_revoke(user=request.user, consent_id=consent.pk)
    messages.success(request, f"“{consent.client}” can no longer act for you: its access is revoked.")
    return redirect("oauth:authorized-apps")


# --- Keys and discovery ---------------------------------------------------------------------------------------


def _public_json(data: dict, max_age: int = 300) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def jwks_view(request: HttpRequest) -> JsonResponse:
    return _public_json(jwks())


def server_metadata() -> dict:
    """RFC 8414 authorization server metadata."""
    base = settings.OAUTH_ISSUER
    auth_methods = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": base,
        "authorization_endpoint": base + reverse("oauth:authorize"),
        "token_endpoint": base + reverse("oauth:token"),
        "revocation_endpoint": base + reverse("oauth:revoke"),
        "introspection_endpoint": base + reverse("oauth:introspect"),
        "jwks_uri": base + reverse("oauth:jwks"),
        "scopes_supported": list(API_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "service_documentation": base + "/developers/quickstart/",
    }


@require_GET
def oauth_server_metadata(request: HttpRequest) -> JsonResponse:
    return _public_json(server_metadata())


@require_GET
def openid_configuration(request: HttpRequest) -> JsonResponse:
    """The same, in OpenID Connect discovery's shape (for client libraries that only look there). Convene
    issues no ID tokens: sign-in with Convene is not offered, only API access."""
    return _public_json(
        {
            **server_metadata(),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [signing_key().algorithm],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "org"],
        }
    )


# --- Introspection (RFC 7662) -------------------------------------------------------------------------------------


def _client_authenticate(request: HttpRequest):
    """The toolkit application the request authenticates as (HTTP Basic or client_id/client_secret in the body)."""
    core = get_oauthlib_core()
    uri, http_method, body, headers = core._extract_params(request)
    oauth_request = OauthlibRequest(uri, http_method, body, headers)
    if not core.server.request_validator.authenticate_client(oauth_request):
        return None
    return oauth_request.client


@csrf_exempt
@require_POST
def introspect(request: HttpRequest) -> JsonResponse:
    """Whether a token is active, and what it carries. A client may introspect only its own tokens: any other
    token answers ``{"active": false}``, exactly like an unknown one."""
    application = _client_authenticate(request)
    if application is None:
        response = JsonResponse({"error": "invalid_client", "error_description": "Client authentication failed."}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
        return response
    token = request.POST.get("token", "")
    if not token:
        return JsonResponse({"error": "invalid_request", "error_description": "The token parameter is missing."}, status=400)
    inactive = JsonResponse({"active": False})
    if looks_like_jwt(token):
        claims = access_token_claims(token)
        principal = principal_from_access_token(token) if claims else None
        if principal is None or claims["client_id"] != application.client_id:
            return inactive
        return JsonResponse(
            {
                "active": True,
                "token_type": "Bearer",
                "scope": " ".join(scope for scope in API_SCOPES if scope in principal.scopes),
                **{name: claims[name] for name in ("client_id", "sub", "aud", "iss", "exp", "iat", "jti", "org")},
            }
        )
    refresh = (
        get_refresh_token_model()
        .objects.select_related("access_token")
        .filter(token_checksum=token_checksum(token), application=application, revoked=None)
        .first()
    )
    if refresh is None or refresh.access_token is None:
        return inactive
    return JsonResponse(
        {
            "active": True,
            "token_type": "refresh_token",
            "client_id": application.client_id,
            "scope": refresh.access_token.scope,
            "sub": str(refresh.user_id) if refresh.user_id else application.client_id,
        }
    )
