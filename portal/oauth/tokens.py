"""Access tokens: RFC 9068 JWTs minted for the toolkit, and the API principal of one presented as a bearer.

The toolkit stores a SHA-256 of every token it issues (never the token). The API verifies a JWT's signature,
expiry, issuer and audience, then checks the stored row (a revoked token has none), the client, and for a
token issued to a user their consent and membership: a token never does more than its user may do now.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid

import jwt
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oauth2_provider.models import get_access_token_model, get_application_model

from accounts.models import Membership
from portal.api.auth import Principal
from portal.models import OAuthClient, OAuthConsent
from portal.oauth.keys import signing_key
from portal.oauth.scopes import scopes_allowed_for_role

AccessToken = get_access_token_model()

#: a worker remembers a token's principal (or that it is refused) this long, like API keys: a revocation made
#: by another worker takes effect here within this time (at once in the worker that made it)
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 10_000
JWT_TYPE = "at+jwt"
LEEWAY_SECONDS = 30  # clock skew tolerated on iat/exp between workers


def issuer() -> str:
    return settings.OAUTH_ISSUER


def api_audience() -> str:
    """The ``aud`` of every access token: the API they are good for."""
    return f"{settings.OAUTH_ISSUER}/api/v1"


def looks_like_jwt(token: str) -> bool:
    """A compact JWS: three base64url parts, a JSON header first (``eyJ`` is ``{"``)."""
    return token.startswith("eyJ") and token.count(".") == 2


def token_checksum(token: str) -> str:
    """How the toolkit finds a token's row (it stores only this)."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_of(application) -> OAuthClient | None:
    try:
        return application.convene_client
    except OAuthClient.DoesNotExist:
        return None


def access_token_generate(request) -> str:
    """The toolkit's ACCESS_TOKEN_GENERATOR: the signed JWT for an oauthlib token request.

    The validator has already checked the client and (for a user's token) the consent, which names the
    organization the token acts for.
    """
    application = request.client
    client = application.convene_client
    if request.grant_type == "client_credentials" or request.user is None:
        organization_id, subject = client.organization_id, application.client_id
    else:
        consent = OAuthConsent.objects.only("organization_id").get(user=request.user, client=client)
        organization_id, subject = consent.organization_id, str(request.user.pk)
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "sub": subject,
        "aud": api_audience(),
        "exp": now + int(request.expires_in or settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]),
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": application.client_id,
        "scope": " ".join(request.scopes or []),
        "org": organization_id,
    }
    key = signing_key()
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"typ": JWT_TYPE, "kid": key.kid})


def access_token_claims(token: str) -> dict | None:
    """The claims of a well-formed access token signed by us, still valid and meant for the API (else None)."""
    key = signing_key()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ", "").lower() not in (JWT_TYPE, "application/at+jwt"):
            return None
        return jwt.decode(
            token,
            key.public_key,
            algorithms=[key.algorithm],
            audience=api_audience(),
            issuer=issuer(),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "client_id", "org"]},
        )
    except jwt.InvalidTokenError:
        return None


def _principal_load(checksum: str, claims: dict) -> Principal | None:
    row = (
        AccessToken.objects.select_related("application__convene_client__organization", "user")
        .filter(token_checksum=checksum)
        .first()
    )
    if row is None or row.is_expired() or row.application is None:
        return None
    client = client_of(row.application)
    if client is None or row.application.client_id != claims["client_id"]:
        return None
    scopes = set(row.scope.split()) & set(client.scopes)
    if row.user_id is None:  # client credentials: the client's own organization
        organization = client.organization
    else:
        consent = OAuthConsent.objects.select_related("organization").filter(user_id=row.user_id, client=client).first()
        if consent is None or consent.organization_id != claims["org"]:
            return None
        role = (
            Membership.objects.filter(user_id=row.user_id, organization_id=consent.organization_id)
            .values_list("role", flat=True)
            .first()
        )
        if role is None or not row.user.is_active:
            return None
        organization = consent.organization
        scopes &= set(consent.scopes) & set(scopes_allowed_for_role(role, list(scopes)))
    if organization.pk != claims["org"]:
        return None
    is_test = client.organization.is_sandbox
    if organization.is_sandbox != is_test:  # sandbox apps act only for sandboxes, live apps only for live data
        return None
    return Principal(
        organization=organization,
        scopes=frozenset(scopes),
        tier=client.tier,
        credential_id=f"oauth:{row.application.client_id}",
        is_test=is_test,
    )


_known: dict[str, tuple[float, int, Principal | None]] = {}  # checksum → (remember until, exp, principal or None)
_known_lock = threading.Lock()


def principal_from_access_token(token: str) -> Principal | None:
    """The API principal of an OAuth access token, or None when it is invalid, expired or revoked."""
    checksum = token_checksum(token)
    now = time.monotonic()
    cached = _known.get(checksum)
    if cached is not None and cached[0] > now:
        return cached[2] if cached[1] > time.time() else None
    claims = access_token_claims(token)
    principal = _principal_load(checksum, claims) if claims is not None else None
    with _known_lock:
        if len(_known) >= TOKEN_CACHE_SIZE:
            _known.clear()
        _known[checksum] = (now + TOKEN_CACHE_SECONDS, int(claims["exp"]) if claims else 0, principal)
    return principal


def access_tokens_forget(*checksums: str) -> None:
    """Forget what this worker remembers of these tokens (of every token when none is given)."""
    with _known_lock:
        if not checksums:
            _known.clear()
        for checksum in checksums:
            _known.pop(checksum, None)


def _forget_now_and_on_commit(*checksums: str) -> None:
    # now, and again once the change is committed (a request in between may have read the old rows)
    access_tokens_forget(*checksums)
    transaction.on_commit(lambda: access_tokens_forget(*checksums))


@receiver(post_delete, sender=AccessToken, dispatch_uid="oauth-access-token-forget")
def _access_token_deleted(sender: type, instance, **kwargs: object) -> None:
    if instance.token_checksum:
        _forget_now_and_on_commit(instance.token_checksum)


@receiver(post_save, sender=OAuthConsent, dispatch_uid="oauth-consent-forget-on-save")
@receiver(post_delete, sender=OAuthConsent, dispatch_uid="oauth-consent-forget-on-delete")
@receiver(post_delete, sender=OAuthClient, dispatch_uid="oauth-client-forget-on-delete")
@receiver(post_delete, sender=Membership, dispatch_uid="oauth-membership-forget-on-delete")
@receiver(post_save, sender=Membership, dispatch_uid="oauth-membership-forget-on-save")
def _grants_changed(sender: type, instance, **kwargs: object) -> None:
    _forget_now_and_on_commit()


@receiver(post_delete, sender=OAuthClient, dispatch_uid="oauth-client-delete-application")
def _client_deleted(sender: type, instance: OAuthClient, **kwargs: object) -> None:
    # an app deleted with its clients: their toolkit applications (and with them every token) go too
    get_application_model().objects.filter(pk=instance.application_id).delete()
