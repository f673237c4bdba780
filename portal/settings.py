"""Convene settings, driven by environment variables (see docs in README.md).

Embedded default: SQLite file, django-q2's ORM broker, local-memory cache, local files.
Scale-out: DATABASE_URL (PostgreSQL) and REDIS_URL (cache, rate limits, q broker).
"""

import os
import sys
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


TESTING = "pytest" in Path(sys.argv[0]).name or sys.argv[1:2] == ["test"]
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "convene-insecure-development-key-never-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured("SECRET_KEY is required unless DEBUG is on: set SECRET_KEY, or DEBUG=1 for local development.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials.apps.SimpleAppConfig",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "django_q",
    "ninja",
    "oauth2_provider",
    "accounts",
    "events",
    "integrations",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.api.middleware.ApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.NotFoundMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.organizations",
            ],
            "builtins": ["template_partials.templatetags.partials"],
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# A lock held longer than this (another request is registering for the same ticket type)
# turns into a "busy, retry" answer instead of a stuck request.
LOCK_TIMEOUT_MS = int(os.environ.get("LOCK_TIMEOUT_MS", "3000"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Persistent connections: without them every request pays a PostgreSQL connection set-up.
    # Persistent connections. A health check would cost a SELECT 1 round trip on every request; without it a
    # connection the server dropped fails one request of that worker, which then opens a fresh one.
    # DATABASE_HEALTH_CHECKS=1 trades that round trip for the failed request (e.g. behind a pooler that
    # recycles connections).
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=600, conn_health_checks=env_bool("DATABASE_HEALTH_CHECKS", False)
        )
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # A row lock not granted within LOCK_TIMEOUT_MS fails the statement (answered as BUSY, 409 +
        # Retry-After) instead of holding a worker; set once per connection, not per transaction.
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c lock_timeout={LOCK_TIMEOUT_MS}"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
                # failing with "database is locked" half-way through a transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6 behaviour now: "example.com" means https
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache, queue ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "convene",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = {
    "name": "convene",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 60,  # below retry, so a task is never picked up twice while still running
    "retry": 120,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "sync": TESTING and not env_bool("Q_ASYNC_IN_TESTS"),
}
if REDIS_URL:
    Q_CLUSTER["django_redis"] = "default"
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth (django-allauth, e-mail login) ----------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
# Enterprise SSO (SAML 2.0 per organization): one allauth SocialApp per organization, kept in sync with
# its SsoConfiguration by accounts.sso.services; the adapters provision members and refuse what must be.
ACCOUNT_ADAPTER = "accounts.sso.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.sso.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an existing account is linked only by the SSO adapter's rules
SOCIALACCOUNT_STORE_TOKENS = False
# Two-factor authentication (allauth.mfa): authenticator apps, security keys, recovery codes. Passkey-only
# login stays off: it would skip the password form's checks (SSO-only domains, throttling).
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_TOTP_ISSUER = "Convene"
#: WebAuthn on http://localhost (development and tests only)
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG or TESTING
# Failed logins: 10 a minute per IP address, 5 per 5 minutes per e-mail address (then a clear message).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
#: seconds to wait for an identity provider's metadata URL
SSO_METADATA_TIMEOUT = int(os.environ.get("SSO_METADATA_TIMEOUT", "10"))
#: plain-http identity provider URLs (a local test IdP); https is required otherwise
SSO_ALLOW_HTTP = env_bool("SSO_ALLOW_HTTP", DEBUG or TESTING)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- E-mail ---------------------------------------------------------------------------------------
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    vars().update(dj_email_url.parse(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Convene <noreply@convene.localhost>")
#: the public address of this install, for links in e-mails and calendar files (and their UIDs' host);
#: by default the first ALLOWED_HOSTS name (https when HTTPS=1)
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/") or (
    f"{'https' if env_bool('HTTPS') else 'http'}://{ALLOWED_HOSTS[0].lstrip('.')}"
    if ALLOWED_HOSTS and ALLOWED_HOSTS[0] not in ("*", "127.0.0.1", "localhost")
    else "http://localhost:8000"
)

# --- I18N, static, media --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if (DEBUG or TESTING)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
MEDIA_URL = "media/"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "var" / "media"))

# --- Integrations ---------------------------------------------------------------------------------
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", DEBUG or TESTING)
#: how long a worker's claim on a webhook delivery lasts: if the worker dies, the delivery is sent again
#: once it runs out; it must outlast one batch (15 s of sending plus one request's 15 s timeout)
WEBHOOKS_CLAIM_LEASE_SECONDS = int(os.environ.get("WEBHOOKS_CLAIM_LEASE_SECONDS", "120"))

# --- OAuth 2.0 (django-oauth-toolkit; see portal/oauth/) -----------------------------------------
#: the PEM private key (RSA → RS256, Ed25519 → EdDSA) that signs OAuth access tokens (JWTs published at
#: /oauth/jwks.json); when empty, an RSA key is generated once and kept in the database (portal.OAuthSigningKey)
OAUTH_JWT_PRIVATE_KEY = os.environ.get("OAUTH_JWT_PRIVATE_KEY", "").replace("\\n", "\n")
#: the issuer (``iss``) of access tokens and the base of the URLs in the discovery documents
OAUTH_ISSUER = os.environ.get("OAUTH_ISSUER", "").rstrip("/") or SITE_URL
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a refresh token used twice revokes its whole family
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens are stored as SHA-256 checksums only
    "ACCESS_TOKEN_GENERATOR": "portal.oauth.tokens.access_token_generate",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "OAUTH2_VALIDATOR_CLASS": "portal.oauth.validators.ConveneOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "portal.oauth.scopes.ApiScopes",
    "SCOPES": {"events:read": "Read events"},  # unused (ApiScopes answers), but the toolkit wants one
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if (DEBUG or TESTING) else ["https"],
    "ALLOW_LOCALHOST_LOOPBACK": True,  # native apps: http://127.0.0.1:<any port>/ (RFC 8252)
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
}

#: big API collections (events, sessions, registrations, attendees) answer repeats from the cache until the
#: organization's data changes (portal/api/listcache.py); a change made around the services shows after this
#: (off under tests, whose rolled-back transactions hand out the same ids again; tests turn it on where they test it)
API_LIST_CACHE_SECONDS = int(os.environ.get("API_LIST_CACHE_SECONDS", "0" if TESTING else "60"))

# --- API benchmark (bench/api.py) -----------------------------------------------------------------
#: CONVENE_BENCH=1 mounts /bench/json (a bare Django JSON view to compare the API with) and multiplies the
#: API's rate limits by CONVENE_BENCH_RATE_SCALE, so a throughput run pays for the limiter without hitting it.
CONVENE_BENCH = env_bool("CONVENE_BENCH", False)
API_RATE_LIMIT_SCALE = max(1, int(os.environ.get("CONVENE_BENCH_RATE_SCALE", "1"))) if CONVENE_BENCH else 1
#: API_RATE_LIMIT_SCALE multiplies every tier's allowance (scripts/api_fuzz.sh: the fuzzer's thousands of
#: anonymous requests would otherwise be answered 429 where it checks for 401)
API_RATE_LIMIT_SCALE = max(1, int(os.environ.get("API_RATE_LIMIT_SCALE", API_RATE_LIMIT_SCALE)))

# --- API usage (portal/usage.py) ------------------------------------------------------------------
#: count every authenticated API request for the developer's usage pages (API_USAGE=0 switches it off)
API_USAGE = env_bool("API_USAGE", True)
#: "background" (a thread per process writes the buffered rows every second), "sync" (at once, in the
#: request) or "manual" (only usage_flush() writes: under pytest, so no test pays for rows it ignores)
API_USAGE_FLUSH = os.environ.get("API_USAGE_FLUSH", "manual" if TESTING else "background")

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING and env_bool("HTTPS", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # Django's own loggers go to the root handler only (its default config would print them twice).
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
