"""Two-factor authentication (allauth's MFA), "require MFA for owners and admins", login throttling and the
login audit trail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEntry, Membership, Role
from tests.factories import PASSWORD, make_member, make_org

pytestmark = pytest.mark.django_db

THROTTLE_MESSAGE = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and used TOTP codes live in the cache: every test starts without any."""
    cache.clear()
    yield
    cache.clear()


def totp_code(secret: str, *, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), as an authenticator app computes it."""
    counter = int((at if at is not None else time.time()) // 30)
    digest = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def fresh_totp_code(secret: str) -> str:
    """A code that stays valid for the next request (never one about to roll over)."""
    if 30 - time.time() % 30 < 2:
        time.sleep(2.1)
    return totp_code(secret)


def password_login(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def reauthenticate(client: Client) -> None:
    """allauth asks for the password again before an authenticator is added."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302


# --- TOTP and recovery codes -----------------------------------------------------------------------


def test_totp_setup_with_a_code_from_the_authenticator_app():
    user = make_member(make_org(), Role.ORGANIZER)
    client = Client()
    password_login(client, user.email)
    assert client.get(reverse("mfa_activate_totp"))["Location"].startswith(reverse("account_reauthenticate"))
    reauthenticate(client)

    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret
    assert 'class="mfa-qr"' in page.content.decode()
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    response = client.post(reverse("mfa_activate_totp"), {"code": fresh_totp_code(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1
    # recovery codes come with the first authenticator
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).count() == 1


def test_login_with_totp_asks_for_the_code_after_the_password():
    user = make_member(make_org(), Role.ORGANIZER)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = Client()

    response = password_login(client, user.email)
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("home")).wsgi_request.user.is_authenticated is False
    refused = client.post(reverse("mfa_authenticate"), {"code": "12345"})
    assert refused.status_code == 200
    assert "errorlist" in refused.content.decode()

    response = client.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(secret)})

    assert response.status_code == 302
    assert client.get(reverse("home")).wsgi_request.user == user


def test_a_recovery_code_works_once():
    user = make_member(make_org(), Role.ORGANIZER)
    TOTP.activate(user, generate_totp_secret())
    code = RecoveryCodes.activate(user).get_unused_codes()[0]

    first = Client()
    password_login(first, user.email)
    response = first.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert first.get(reverse("home")).wsgi_request.user == user

    second = Client()
    password_login(second, user.email)
    response = second.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert second.get(reverse("home")).wsgi_request.user.is_authenticated is False


def test_user_menu_links_to_two_factor_authentication(organizer_client):
    html = organizer_client.get(reverse("home"), follow=True).content.decode()

    assert f'href="{reverse("mfa_index")}" data-testid="menu-mfa">Two-factor authentication</a>' in html


def test_two_factor_page_uses_the_convene_layout(organizer_client):
    html = organizer_client.get(reverse("mfa_index")).content.decode()

    assert "auth-card card" in html
    assert "Authenticator App" in html
    assert "Security Keys" in html


# --- require MFA for owners and admins -------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_password_login_of_an_admin_without_mfa_is_sent_to_set_it_up(role):
    org = make_org()
    org.require_mfa_for_admins = True
    org.save()
    user = make_member(org, role)
    client = Client()
    password_login(client, user.email)

    response = client.get(reverse("events:dashboard", args=[org.slug]))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    page = client.get(reverse("mfa_index"))
    assert page.status_code == 200
    assert f"{org.name} requires two-factor authentication" in page.content.decode()
    reauthenticate(client)  # the way out stays open
    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_the_redirect_ends_once_mfa_is_set_up():
    org = make_org()
    org.require_mfa_for_admins = True
    org.save()
    user = make_member(org, Role.OWNER)
    client = Client()
    password_login(client, user.email)
    reauthenticate(client)
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    client.post(reverse("mfa_activate_totp"), {"code": fresh_totp_code(secret)})

    response = client.get(reverse("events:dashboard", args=[org.slug]))

    assert response.status_code == 200


def test_organizers_are_not_required_to_use_mfa():
    org = make_org()
    org.require_mfa_for_admins = True
    org.save()
    user = make_member(org, Role.ORGANIZER)
    client = Client()
    password_login(client, user.email)

    assert client.get(reverse("events:dashboard", args=[org.slug])).status_code == 200


def test_without_the_setting_owners_are_not_redirected():
    org = make_org()
    user = make_member(org, Role.OWNER)
    client = Client()
    password_login(client, user.email)

    assert client.get(reverse("events:dashboard", args=[org.slug])).status_code == 200


def test_owner_switches_the_requirement_on_from_the_sso_page(org, member):
    owner = member(Role.OWNER)
    client = Client()
    client.force_login(owner)

    page = client.get(reverse("accounts:sso-settings", args=[org.slug])).content.decode()
    assert 'data-testid="sso-security"' in page
    response = client.post(
        reverse("accounts:sso-settings", args=[org.slug]), {"form": "security", "require_mfa_for_admins": "on"}
    )

    assert response.status_code == 302
    org.refresh_from_db()
    assert org.require_mfa_for_admins is True
    entry = AuditEntry.objects.for_org(org).get(action="accounts.security.updated")
    assert entry.changes == {"require_mfa_for_admins": [False, True]}


def test_an_admin_cannot_change_the_requirement(org, member):
    admin = member(Role.ADMIN)
    client = Client()
    client.force_login(admin)

    page = client.get(reverse("accounts:sso-settings", args=[org.slug])).content.decode()
    assert "Only owners can change this." in page
    response = client.post(
        reverse("accounts:sso-settings", args=[org.slug]), {"form": "security", "require_mfa_for_admins": "on"}, follow=True
    )

    org.refresh_from_db()
    assert org.require_mfa_for_admins is False
    assert "Only an owner can change" in response.content.decode()


# --- throttling ----------------------------------------------------------------------------------


def test_failed_logins_are_throttled_with_a_clear_message(org, member):
    owner = member(Role.OWNER)
    client = Client()
    for _ in range(5):
        response = password_login(client, owner.email, "wrong-password")
        assert THROTTLE_MESSAGE not in response.content.decode()

    response = password_login(client, owner.email)  # even the right password, for now

    assert response.status_code == 200
    assert THROTTLE_MESSAGE in response.content.decode()
    assert response.wsgi_request.user.is_authenticated is False
    assert AuditEntry.objects.for_org(org).filter(action="accounts.login_throttled").count() == 1


def test_throttle_message_does_not_reveal_whether_an_account_exists(member):
    known = member(Role.OWNER)
    messages = []
    for email in (known.email, "nobody-here@example.com"):
        client = Client()
        for _ in range(5):
            password_login(client, email, "wrong-password")
        html = password_login(client, email, "wrong-password").content.decode()
        messages.append(re.findall(r'role="alert"><li>([^<]+)</li>', html))

    assert messages[0] == messages[1]
    assert THROTTLE_MESSAGE in messages[0][0]


# --- audit trail ---------------------------------------------------------------------------------


def test_password_login_is_audited_in_every_organization_of_the_user():
    first, second, unrelated = make_org(), make_org(), make_org()
    user = make_member(first, Role.ORGANIZER)
    Membership.objects.create(organization=second, user=user, role=Role.VIEWER)

    password_login(Client(), user.email)

    for org in (first, second):
        entry = AuditEntry.objects.for_org(org).get(action="accounts.login")
        assert entry.actor == user
        assert entry.changes["method"] == "password"
    assert not AuditEntry.objects.for_org(unrelated).exists()


def test_login_with_totp_records_the_second_factor(org, member):
    user = member(Role.ORGANIZER)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = Client()
    password_login(client, user.email)
    assert not AuditEntry.objects.for_org(org).filter(action="accounts.login").exists()  # not in yet

    client.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(secret)})

    entry = AuditEntry.objects.for_org(org).get(action="accounts.login")
    assert entry.changes["mfa"] == "totp"


def test_failed_login_is_audited_without_revealing_anything(org, member):
    user = member(Role.ORGANIZER)

    response = password_login(Client(), user.email, "wrong-password")
    unknown = password_login(Client(), "stranger@example.com", "wrong-password")

    entry = AuditEntry.objects.for_org(org).get(action="accounts.login_failed")
    assert entry.actor is None
    assert entry.actor_label == user.email
    assert entry.changes["email"] == user.email
    assert AuditEntry.objects.filter(action="accounts.login_failed").count() == 1  # the stranger: nowhere
    error = re.findall(r'role="alert"><li>([^<]+)</li>', response.content.decode())
    assert error == re.findall(r'role="alert"><li>([^<]+)</li>', unknown.content.decode())


def test_logout_is_audited(org, member):
    user = member(Role.ORGANIZER)
    client = Client()
    password_login(client, user.email)

    client.post(reverse("account_logout"))

    entry = AuditEntry.objects.for_org(org).get(action="accounts.logout")
    assert entry.actor == user
