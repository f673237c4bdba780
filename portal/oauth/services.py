"""Writes for OAuth: clients of an app (created with a secret shown once, deleted) and users' consents."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from accounts.errors import InvalidScopes
from accounts.models import API_SCOPES, ApiTier, App, Membership, Organization, User
from accounts.services import audit_log
from portal.errors import DomainError, PermissionDenied
from portal.models import OAuthClient, OAuthConsent
from portal.oauth.scopes import scopes_allowed_for_role

Application = get_application_model()

GRANT_AUTHORIZATION_CODE = "authorization-code"
GRANT_CLIENT_CREDENTIALS = "client-credentials"
#: the grant types a client is made for, as the pages and the command name them → the toolkit's names
GRANT_TYPES = {
    GRANT_AUTHORIZATION_CODE: Application.GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS: Application.GRANT_CLIENT_CREDENTIALS,
}


class InvalidOAuthClient(DomainError):
    code, status = "INVALID_OAUTH_CLIENT", 422


class ConsentRefused(PermissionDenied):
    code = "CONSENT_NOT_ALLOWED"


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise InvalidScopes(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(API_SCOPES)}.", field="scopes")
    if not scopes:
        raise InvalidScopes("Choose at least one scope.", field="scopes")
    return [scope for scope in API_SCOPES if scope in scopes]


@transaction.atomic(durable=True)
def oauth_client_create(
    *,
    org: Organization,
    actor: User | None,
    app_id: int,
    name: str,
    grant_type: str,
    scopes: list[str],
    redirect_uris: list[str] | None = None,
    tier: str = ApiTier.PARTNER,
) -> tuple[OAuthClient, str]:
    """Make an OAuth client for one of ``org``'s apps; returns it with its secret, which is stored hashed and
    never shown again."""
    app = App.objects.for_org(org).get(pk=app_id)
    if grant_type not in GRANT_TYPES:
        raise InvalidOAuthClient(f"Unknown grant type {grant_type!r}: choose {' or '.join(GRANT_TYPES)}.", field="grant_type")
    if not name.strip():
        raise InvalidOAuthClient("Give the client a name.", field="name")
    scopes = _check_scopes(scopes)
    uris = [uri.strip() for uri in (redirect_uris or []) if uri.strip()]
    if grant_type == GRANT_CLIENT_CREDENTIALS and uris:
        raise InvalidOAuthClient("A client-credentials client has no redirect URIs.", field="redirect_uris")
    if grant_type == GRANT_AUTHORIZATION_CODE and not uris:
        raise InvalidOAuthClient("Give at least one redirect URI.", field="redirect_uris")
    secret = generate_client_secret()
    application = Application(
        name=name.strip()[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=GRANT_TYPES[grant_type],
        redirect_uris=" ".join(uris),
        client_secret=secret,
        hash_client_secret=True,
        skip_authorization=False,
        algorithm=Application.NO_ALGORITHM,
    )
    try:
        application.clean()
    except ValidationError as exc:
        messages = [message for messages in exc.message_dict.values() for message in messages]
        raise InvalidOAuthClient(" ".join(messages), field="redirect_uris") from exc
    application.save()
    client = OAuthClient.objects.create(
        organization=org,
        app=app,
        application=application,
        scopes=scopes,
        tier=tier,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_log(
        org=org,
        actor=actor,
        action="portal.oauth_client.created",
        obj=client,
        changes={"app": app.name, "grant_type": grant_type, "scopes": scopes, "client_id": application.client_id},
    )
    return client, secret


@transaction.atomic(durable=True)
def oauth_client_delete(*, org: Organization, actor: User | None, client_id: int) -> None:
    """Delete a client: its tokens stop working at once and every consent given to it goes."""
    client = OAuthClient.objects.for_org(org).select_related("application").get(pk=client_id)
    audit_log(
        org=org,
        actor=actor,
        action="portal.oauth_client.deleted",
        obj=client,
        changes={"client_id": client.application.client_id},
    )
    client.application.delete()  # cascades to the client, its consents, grants and tokens


def _tokens_revoke(*, user: User, application) -> None:
    get_grant_model().objects.filter(user=user, application=application).delete()
    get_refresh_token_model().objects.filter(user=user, application=application).delete()
    get_access_token_model().objects.filter(user=user, application=application).delete()


@transaction.atomic(durable=True)
def oauth_consent_grant(*, user: User, client: OAuthClient, org: Organization, scopes: list[str]) -> OAuthConsent:
    """Record that ``user`` lets ``client`` act for ``org`` with ``scopes``; replaces the user's earlier consent to
    this client (and revokes its tokens when the organization changes)."""
    scopes = _check_scopes(scopes)
    role = Membership.objects.filter(user=user, organization=org).values_list("role", flat=True).first()
    if role is None:
        raise ConsentRefused("You are not a member of this organization.", field="organization")
    if org.is_sandbox != client.organization.is_sandbox:
        kind = "sandbox" if client.organization.is_sandbox else "live"
        raise ConsentRefused(f"This is a {kind} app: it can only act for {kind} organizations.", field="organization")
    refused = sorted(set(scopes) - set(scopes_allowed_for_role(role, scopes)))
    if refused:
        raise ConsentRefused(f"Your role in {org.name} does not allow: {', '.join(refused)}.", field="organization")
    consent = OAuthConsent.objects.select_for_update().filter(user=user, client=client).first()
    now = timezone.now()
    if consent is None:
        consent = OAuthConsent.objects.create(
            user=user, client=client, organization=org, scopes=scopes, created_at=now, updated_at=now
        )
    else:
        if consent.organization_id != org.pk:
            _tokens_revoke(user=user, application=client.application)
        consent.organization, consent.scopes, consent.updated_at = org, scopes, now
        consent.save(update_fields=["organization", "scopes", "updated_at"])
    audit_log(
        org=org, actor=user, action="portal.oauth_consent.granted", obj=consent, changes={"client": str(client), "scopes": scopes}
    )
    return consent


@transaction.atomic(durable=True)
def oauth_consent_revoke(*, user: User, consent_id: int) -> OAuthConsent:
    """``user`` withdraws a consent they gave: the client's tokens for them stop working at once."""
    consent = OAuthConsent.objects.select_related("client__application", "organization").get(pk=consent_id, user=user)
    _tokens_revoke(user=user, application=consent.client.application)
    audit_log(
        org=consent.organization,
        actor=user,
        action="portal.oauth_consent.revoked",
        obj=consent,
        changes={"client": str(consent.client)},
    )
    consent.delete()
    return consent
