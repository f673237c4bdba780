from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from accounts.models import OrgQuerySet


class IdempotencyRecord(models.Model):
    """The stored answer to a creating POST sent with an Idempotency-Key, kept 24 hours.

    ``status_code`` is empty while the first request is still being processed.
    """

    credential_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["credential_id", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.credential_id} {self.key}"


# --- OAuth 2.0 (the protocol rows are django-oauth-toolkit's; these tie them to Convene) ---------------


class OAuthClient(models.Model):
    """An OAuth 2.0 client of an organization's app. The client id, hashed secret, grant type and redirect
    URIs live in the toolkit's ``Application`` row; this adds who owns it and which API scopes it may ask."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="oauth_clients")
    app = models.ForeignKey("accounts.App", on_delete=models.CASCADE, related_name="oauth_clients")
    application = models.OneToOneField(oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="convene_client")
    scopes = models.JSONField(default=list)
    tier = models.CharField(max_length=20, default="partner")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.application.name if self.application_id else f"OAuth client {self.pk}"


class OAuthConsent(models.Model):
    """A user's permission for an OAuth client to act for one of their organizations with these scopes.

    One per user and client: authorizing the client again (for another organization, say) replaces it, and
    tokens issued under an earlier consent stop working. Deleting it revokes the user's tokens of the client.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_consents")
    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="consents")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "client"], name="oauth_consent_unique_client")]

    def __str__(self) -> str:
        return f"{self.user} → {self.client} @ {self.organization}"


class OAuthSigningKey(models.Model):
    """The private key that signs access tokens when no ``OAUTH_JWT_PRIVATE_KEY`` is configured: generated
    once, on first use, and shared by every worker through the database."""

    name = models.CharField(max_length=40, unique=True)
    private_key_pem = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
