"""The SSO settings page, the owners' test sign-in and the login page's "Continue with single sign-on"."""

from __future__ import annotations

from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml.utils import get_app_or_404
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AuditEntry, SsoProtocol, SsoSource
from accounts.permissions import org_view
from accounts.sso import oidc, selectors, services
from accounts.sso.acs import TEST_REPORT_KEY
from accounts.sso.forms import SsoLoginForm, SsoSettingsForm
from accounts.views_security import security_context, security_settings_post
from events.forms import apply_domain_error
from portal.errors import DomainError


def _sp_urls(request: HttpRequest, slug: str) -> dict:
    """What the owner registers at the IdP: our entity ID (the metadata URL), ACS and SLS URLs."""
    return {
        "metadata": request.build_absolute_uri(reverse("saml_metadata", args=[slug])),
        "acs": request.build_absolute_uri(reverse("saml_acs", args=[slug])),
        "sls": request.build_absolute_uri(reverse("saml_sls", args=[slug])),
        "oidc_callback": request.build_absolute_uri(
            reverse("openid_connect_callback", kwargs={"provider_id": oidc.oidc_provider_id(slug)})
        ),
    }


def _idp_input(data: dict, config) -> services.IdpInput | None:
    """The IdP part of the form, or None when the chosen way was left empty (the IdP stays as it is)."""
    source = data["source"]
    if source == SsoSource.METADATA_URL:
        return services.IdpInput(source=source, metadata_url=data["metadata_url"]) if data["metadata_url"].strip() else None
    if source == SsoSource.METADATA_XML:
        return services.IdpInput(source=source, metadata_xml=data["metadata_xml"]) if data["metadata_xml"].strip() else None
    if not (data["entity_id"].strip() or data["sso_url"].strip() or data["certificate"].strip()):
        return None
    certificate = data["certificate"] or (config.x509_certificate if config is not None else "")
    return services.IdpInput(
        source=source, entity_id=data["entity_id"], sso_url=data["sso_url"], slo_url=data["slo_url"], certificate=certificate
    )


@org_view("sso.manage")
@require_http_methods(["GET", "POST"])
def sso_settings(request: HttpRequest) -> HttpResponse:
    org = request.organization
    if request.method == "POST" and request.POST.get("form") == "security":
        return security_settings_post(request)
    config = selectors.sso_configuration_get(org=org)
    domains = selectors.sso_domain_list(org=org)
    if request.method == "POST":
        form = SsoSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.sso_configuration_update(
                    org=org,
                    actor=request.user,
                    idp=_idp_input(data, config),
                    domains=data["domains"],
                    attribute_email=data["attribute_email"],
                    attribute_first_name=data["attribute_first_name"],
                    attribute_last_name=data["attribute_last_name"],
                    attribute_groups=data["attribute_groups"],
                    role_map=data["role_map"],
                    default_role=data["default_role"],
                    require_sso=data["require_sso"],
                    allow_idp_initiated=data["allow_idp_initiated"],
                    enabled=data["enabled"],
                    **form.oidc_settings(),
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, "Single sign-on settings saved.")
                return redirect("accounts:sso-settings", org.slug)
    else:
        form = SsoSettingsForm(initial=SsoSettingsForm.initial_for(config, domains))
    context = {
        "nav": "sso",
        "form": form,
        "config": config,
        "domains": domains,
        "certificate": services.certificate_info(config.x509_certificate) if config and config.x509_certificate else {},
        "sp": _sp_urls(request, org.slug),
        **security_context(request),
        "recent": AuditEntry.objects.for_org(org).filter(action__startswith="accounts.sso.").order_by("-created_at", "-id")[:10],
    }
    return render(request, "accounts/sso_settings.html", context)


@org_view("sso.manage")
@require_POST
def sso_test_start(request: HttpRequest) -> HttpResponse:
    """Start a sign-in at the IdP whose answer is reported on the result page instead of logging anyone in."""
    org = request.organization
    config = selectors.sso_configuration_get(org=org)
    if config is None or config.protocol != SsoProtocol.SAML or not config.is_complete:
        messages.error(request, "Give the SAML identity provider first, then test the sign-in.")
        return redirect("accounts:sso-settings", org.slug)
    request.session.pop(TEST_REPORT_KEY.format(slug=org.slug), None)
    provider = get_app_or_404(request, org.slug).get_provider(request)
    return provider.redirect(
        request, AuthProcess.LOGIN, next_url=reverse("accounts:sso-test-result", args=[org.slug]), data={"sso_test": True}
    )


@org_view("sso.manage")
@require_GET
def sso_test_result(request: HttpRequest) -> HttpResponse:
    org = request.organization
    report = request.session.get(TEST_REPORT_KEY.format(slug=org.slug))
    return render(request, "accounts/sso_test_result.html", {"nav": "sso", "report": report})


@require_http_methods(["GET", "POST"])
def sso_login(request: HttpRequest) -> HttpResponse:
    """Continue with single sign-on: the e-mail's domain picks the organization, whose IdP gets the user."""
    form = SsoLoginForm(request.POST or None, initial={"next": request.GET.get("next", "")})
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        config = selectors.sso_configuration_for_email(email=email)
        if config is None:
            domain = selectors.email_domain(email)
            form.add_error(
                "email", f"No organization signs in {domain} addresses through single sign-on. Log in with your password."
            )
        else:
            next_url = form.cleaned_data["next"]
            if not url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                next_url = None
            if config.protocol == SsoProtocol.OIDC:
                provider = oidc.oidc_provider(request, config)
            else:
                provider = get_app_or_404(request, config.organization.slug).get_provider(request)
            return provider.redirect(request, AuthProcess.LOGIN, next_url=next_url)
    return render(request, "accounts/sso_login.html", {"sso_form": form, "sso_next": form["next"].value() or ""})
