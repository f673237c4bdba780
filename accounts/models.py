from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OrgQuerySet(models.QuerySet):
    """Every tenant-owned model's manager: selectors start from ``for_org(org)``."""

    def for_org(self, org: Organization) -> OrgQuerySet:
        return self.filter(organization=org)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in with an e-mail address (no username)."""

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.email


def calendar_feed_token() -> str:
    return secrets.token_urlsafe(24)


class Organization(models.Model):
    """The tenant: everything an organizer sees belongs to one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    #: the secret in the organization's subscribable calendar feed URL (rotating it revokes old links)
    calendar_token = models.CharField(max_length=64, default=calendar_feed_token, unique=True)
    #: a developer's sandbox: sample data, ``cnv_test_`` keys only, never live data
    is_sandbox = models.BooleanField(default=False)
    #: owners and admins who log in with a password must set up two-factor authentication first
    require_mfa_for_admins = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    ORGANIZER = "organizer", _("Organizer")
    CHECKIN = "checkin", _("Check-in staff")
    DEVELOPER = "developer", _("Developer")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user"),
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class Invitation(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=models.Q(accepted_at__isnull=True),
                name="invitation_unique_pending_email",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"


class AuditEntry(models.Model):
    """Who did what to which object, when. Written by services in the same transaction."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_created"),
            # the newest entry of an organization is the version of its data (portal/api/listcache.py)
            models.Index(fields=["organization", "-id"], name="audit_org_newest"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"


API_SCOPES = (
    "events:read",
    "events:write",
    "registrations:read",
    "registrations:write",
    "checkins:write",
    "payments:read",
    "payments:write",
    "users:read",
    "users:write",
    "webhooks:read",
    "webhooks:write",
)


class App(models.Model):
    """A developer's integration: groups its API keys (and OAuth clients) and their usage."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["organization", "name"], name="app_unique_name")]

    def __str__(self) -> str:
        return self.name


class ApiRequest(models.Model):
    """One API request, for the developer's usage pages (kept for a limited time)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    #: ``key:<hash prefix>`` or ``oauth:<client id>``, as the principal names it
    credential_id = models.CharField(max_length=100, db_index=True)
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    #: the operation's route template, e.g. ``/api/v1/events/{event_id}``: what "per endpoint" groups by
    endpoint = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    correlation_id = models.CharField(max_length=100)
    rate_limited = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["organization", "-created_at"], name="apirequest_org_created"),
            models.Index(fields=["app", "-created_at"], name="apirequest_app_created"),
            models.Index(fields=["api_key", "-created_at"], name="apirequest_key_created"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class ApiTier(models.TextChoices):
    USER = "user", _("User")
    PARTNER = "partner", _("Partner")
    INTERNAL = "internal", _("Internal")


class ApiKey(models.Model):
    """A credential for the API, acting for one organization with a set of scopes.

    Only a SHA-256 of the key is stored (keys carry 190 random bits, so a fast hash is enough);
    the key itself is shown once, when it is created.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    display = models.CharField(max_length=32, help_text=_("The key's prefix and last characters, to recognise it."))
    scopes = models.JSONField(default=list)
    is_test = models.BooleanField(default=False)
    tier = models.CharField(max_length=20, choices=ApiTier.choices, default=ApiTier.USER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    #: the app this key belongs to (keys made before apps existed, or by the command, may have none)
    app = models.ForeignKey("accounts.App", null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    #: a rolled key keeps working until then (the grace period chosen when rolling)
    expires_at = models.DateTimeField(null=True, blank=True)
    #: the key this one replaced when it was rolled
    rolled_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Enterprise single sign-on (SAML 2.0) --------------------------------------------------------


#: what common identity providers (Okta, Entra ID, Google, Keycloak, ADFS) call these attributes
SSO_DEFAULT_ATTRIBUTES = {
    "email": "email,urn:oid:0.9.2342.19200300.100.1.3,http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "first_name": "firstName,givenName,urn:oid:2.5.4.42,http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "last_name": "lastName,sn,urn:oid:2.5.4.4,http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "groups": "groups,memberOf,http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
}


def sso_default_role_map() -> dict:
    return {}


class SsoSource(models.TextChoices):
    METADATA_URL = "metadata_url", _("Metadata URL")
    METADATA_XML = "metadata_xml", _("Metadata XML")
    MANUAL = "manual", _("Entity ID, SSO URL and certificate")


class SsoProtocol(models.TextChoices):
    SAML = "saml", _("SAML 2.0")
    OIDC = "oidc", _("OpenID Connect")


class SsoConfiguration(models.Model):
    """An organization's SAML identity provider, and how its assertions become members.

    Kept in sync with one allauth ``SocialApp`` (provider ``saml``, provider id = the organization slug)
    by ``accounts.sso.services``.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso_configuration")
    protocol = models.CharField(max_length=10, choices=SsoProtocol.choices, default=SsoProtocol.SAML)
    source = models.CharField(max_length=20, choices=SsoSource.choices, default=SsoSource.MANUAL)
    metadata_url = models.URLField(max_length=500, blank=True)
    metadata_xml = models.TextField(blank=True, help_text=_("The IdP metadata as last read, kept for display."))
    idp_entity_id = models.CharField(max_length=500, blank=True)
    sso_url = models.URLField(max_length=500, blank=True)
    slo_url = models.URLField(max_length=500, blank=True)
    x509_certificate = models.TextField(blank=True)
    #: OpenID Connect: the issuer (its discovery document is ``<issuer>/.well-known/openid-configuration``)
    oidc_issuer = models.URLField(max_length=500, blank=True)
    oidc_client_id = models.CharField(max_length=255, blank=True)
    #: never shown back on any page; copied into the organization's allauth SocialApp, which needs it
    oidc_client_secret = models.CharField(max_length=500, blank=True)
    #: attribute names, comma-separated: the first one the IdP sends is used
    attribute_email = models.CharField(max_length=500, default=SSO_DEFAULT_ATTRIBUTES["email"])
    attribute_first_name = models.CharField(max_length=500, default=SSO_DEFAULT_ATTRIBUTES["first_name"])
    attribute_last_name = models.CharField(max_length=500, default=SSO_DEFAULT_ATTRIBUTES["last_name"])
    attribute_groups = models.CharField(max_length=500, default=SSO_DEFAULT_ATTRIBUTES["groups"])
    #: IdP group name → role
    role_map = models.JSONField(default=sso_default_role_map, blank=True)
    #: the role of a user in no mapped group; empty: such users are refused
    default_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    require_sso = models.BooleanField(default=False)
    allow_idp_initiated = models.BooleanField(default=False)
    enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    def __str__(self) -> str:
        return f"SAML sign-on of {self.organization}"

    @property
    def is_complete(self) -> bool:
        """The chosen protocol's identity provider is fully given."""
        return self.oidc_is_complete if self.protocol == SsoProtocol.OIDC else self.saml_is_complete

    @property
    def saml_is_complete(self) -> bool:
        return bool(self.idp_entity_id and self.sso_url and self.x509_certificate)

    @property
    def oidc_is_complete(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)


class SsoDomain(models.Model):
    """An e-mail domain whose users sign in through their organization's identity provider."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class SsoAssertion(models.Model):
    """An assertion already used to sign in: the same one again is a replay. Kept until it expires."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=200)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "assertion_id"], name="sso_assertion_unique_id"),
        ]

    def __str__(self) -> str:
        return self.assertion_id
