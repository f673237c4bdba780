"""Reads for OAuth pages."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import App, Membership, Organization, User
from portal.models import OAuthClient, OAuthConsent
from portal.oauth.scopes import scopes_allowed_for_role


def oauth_client_list(*, org: Organization, app: App) -> QuerySet[OAuthClient]:
    return OAuthClient.objects.for_org(org).filter(app=app).select_related("application", "created_by")


def oauth_client_get_by_client_id(*, client_id: str) -> OAuthClient | None:
    return (
        OAuthClient.objects.select_related("application", "organization", "app").filter(application__client_id=client_id).first()
    )


def oauth_consent_list(*, user: User) -> QuerySet[OAuthConsent]:
    return OAuthConsent.objects.filter(user=user).select_related(
        "client__application", "client__app", "client__organization", "organization"
    )


def oauth_consent_organizations(*, user: User, client: OAuthClient, scopes: list[str]) -> list[Organization]:
    """The user's organizations they may let ``client`` act for with ``scopes``: their role allows every scope,
    and the organization is a sandbox exactly when the client's app belongs to one."""
    memberships = Membership.objects.filter(user=user, organization__is_sandbox=client.organization.is_sandbox).select_related(
        "organization"
    )
    return [
        m.organization
        for m in memberships.order_by("organization__name")
        if len(scopes_allowed_for_role(m.role, scopes)) == len(set(scopes))
    ]
