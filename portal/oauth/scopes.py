"""The API scopes as OAuth scopes: what each one means in words, and which member roles may grant it."""

from __future__ import annotations

from oauth2_provider.scopes import BaseScopes

from accounts.permissions import has_perm

#: what the consent screen says a client may do with each scope
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "events:read": "See your events, sessions and their statistics",
    "events:write": "Create, change, publish and cancel events and sessions",
    "registrations:read": "See registrations and attendees, with their names and e-mail addresses",
    "registrations:write": "Register, change and cancel attendees",
    "checkins:write": "Check attendees in at the door",
    "payments:read": "See payments",
    "payments:write": "Record and refund payments",
    "users:read": "See your team members",
    "users:write": "Invite team members and change their roles",
    "webhooks:read": "See webhook endpoints and their deliveries",
    "webhooks:write": "Add, change and remove webhook endpoints",
}

#: the portal permission a member needs to grant a scope (a client never gets more than its user may do)
SCOPE_PERMISSIONS: dict[str, str] = {
    "events:read": "events.view",
    "events:write": "events.edit",
    "registrations:read": "registrations.view",
    "registrations:write": "registrations.edit",
    "checkins:write": "checkin.perform",
    "payments:read": "registrations.view",
    "payments:write": "payments.edit",
    "users:read": "team.manage",
    "users:write": "team.manage",
    "webhooks:read": "webhooks.manage",
    "webhooks:write": "webhooks.manage",
}


def scopes_allowed_for_role(role: str | None, scopes: list[str] | frozenset[str]) -> list[str]:
    """The scopes among ``scopes`` a member with ``role`` may grant (and so a token of theirs may use)."""
    return [scope for scope in scopes if scope in SCOPE_PERMISSIONS and has_perm(role, SCOPE_PERMISSIONS[scope])]


def scopes_describe(scopes: list[str]) -> list[tuple[str, str]]:
    return [(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in scopes]


class ApiScopes(BaseScopes):
    """The toolkit's scopes backend: a client may ask for the scopes it was given when it was created, and
    gets all of them when it asks for none."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPE_DESCRIPTIONS)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        client = getattr(application, "convene_client", None) if application is not None else None
        return list(client.scopes) if client is not None else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return self.get_available_scopes(application, request)
