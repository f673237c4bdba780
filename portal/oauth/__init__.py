"""OAuth 2.0 for the API: django-oauth-toolkit does the protocol; this package ties it to organizations, apps
and the API's scopes, and makes its access tokens RFC 9068 JWTs that the API verifies like keys."""
