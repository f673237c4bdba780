"""The developer portal: sign-up into a sandbox, test/live separation, apps and keys (roll, revoke), test events, docs."""

from __future__ import annotations

import ast
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.errors import KeyModeMismatch
from accounts.models import ApiKey, App, AuditEntry, Membership, Organization, Role
from accounts.services import api_key_create, api_key_roll, app_create
from events.models import CheckIn, Event, Registration, RegistrationStatus, Session
from integrations.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from portal import dev_docs
from portal.api.auth import api_keys_forget
from portal.sandbox import developer_sandbox_create
from tests.api.conftest import ApiClient
from tests.conftest import logged_in_client
from tests.factories import make_member, make_org, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_keys():
    api_keys_forget()
    yield
    api_keys_forget()


@pytest.fixture
def sandbox(db):
    org = make_org("Sandbox", slug="sandbox-test")
    org.is_sandbox = True
    org.save(update_fields=["is_sandbox"])
    return org


def secret_in(response) -> str:
    return re.search(r'value="(cnv_(?:live|test)_[^"]+)"', response.content.decode()).group(1)


# --- Sign-up → sandbox ------------------------------------------------------------------------------


def test_developer_signup_makes_a_filled_sandbox_and_lands_on_its_developer_home(django_capture_on_commit_callbacks):
    client = Client()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dev-signup"), {"email": "grace@example.com", "password1": "a-Long-pass-9", "password2": "a-Long-pass-9"}
        )

    org = Organization.objects.get(memberships__user__email="grace@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("dev-home", args=[org.slug])
    assert (org.name, org.is_sandbox) == ("grace's sandbox", True)
    assert Membership.objects.get(organization=org).role == Role.OWNER
    registrations = Registration.objects.for_org(org)
    assert Event.objects.for_org(org).count() == 3
    assert Session.objects.for_org(org).count() == 4
    assert registrations.filter(status=RegistrationStatus.CONFIRMED).count() == 14
    assert registrations.filter(status=RegistrationStatus.PENDING_PAYMENT).count() == 3
    assert CheckIn.objects.for_org(org).count() == 2
    home = client.get(response["Location"])
    assert "Your sandbox" in home.content.decode()
    assert home.context["summary"]["registrations"] == 17


def test_developer_signup_keeps_allauths_checks():
    make_user("taken@example.com")

    response = Client().post(
        reverse("dev-signup"), {"email": "taken@example.com", "password1": "a-Long-pass-9", "password2": "a-Long-pass-9"}
    )

    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not Organization.objects.filter(is_sandbox=True).exists()


def test_two_developers_with_the_same_mail_name_get_distinct_sandboxes():
    first = developer_sandbox_create(user=make_user("sam@one.test"))
    second = developer_sandbox_create(user=make_user("sam@two.test"))

    assert first.slug != second.slug
    assert first.name == second.name == "sam's sandbox"


def test_seed_demo_still_makes_acme_as_before():
    call_command("seed_demo", stdout=io.StringIO())

    acme = Organization.objects.get(slug="acme")
    assert acme.is_sandbox is False
    assert Registration.objects.for_org(acme).count() == 54
    assert Registration.objects.for_org(acme).filter(status=RegistrationStatus.PENDING_PAYMENT).count() == 0
    assert CheckIn.objects.for_org(acme).count() == 5


# --- Test / live separation -------------------------------------------------------------------------


def test_a_sandbox_gets_test_keys_and_a_real_organization_live_keys_by_default(org, sandbox):
    _live, live_secret = api_key_create(org=org, actor=None, name="live", scopes=["events:read"])
    _test, test_secret = api_key_create(org=sandbox, actor=None, name="test", scopes=["events:read"])

    assert live_secret.startswith("cnv_live_")
    assert test_secret.startswith("cnv_test_")


@pytest.mark.parametrize(("sandboxed", "test"), [(False, True), (True, False)])
def test_a_key_of_the_wrong_mode_is_refused_at_creation(org, sandboxed, test):
    org.is_sandbox = sandboxed
    org.save(update_fields=["is_sandbox"])

    with pytest.raises(KeyModeMismatch) as caught:
        api_key_create(org=org, actor=None, name="k", scopes=["events:read"], test=test)

    assert caught.value.code == "KEY_MODE_MISMATCH"
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize("sandboxed", [False, True])
def test_a_key_whose_organization_changed_mode_is_refused_at_authentication(org, sandboxed):
    org.is_sandbox = sandboxed
    org.save(update_fields=["is_sandbox"])
    _key, secret = api_key_create(org=org, actor=None, name="k", scopes=["events:read"])
    assert ApiClient(secret).get("/api/v1/events").status_code == 200

    Organization.objects.filter(pk=org.pk).update(is_sandbox=not sandboxed)
    api_keys_forget()

    response = ApiClient(secret).get("/api/v1/events")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_the_create_api_key_command_makes_a_test_key_for_a_sandbox_without_asking(sandbox, capsys):
    call_command("create_api_key", org=sandbox.slug, name="ci", scopes="events:read")

    assert capsys.readouterr().out.strip().startswith("cnv_test_")


def test_a_test_key_sees_only_its_sandbox(org, sandbox):
    from tests.factories import make_event

    make_event(org, publish=True, title="Live event")
    make_event(sandbox, publish=True, title="Sandbox event")
    _key, secret = api_key_create(org=sandbox, actor=None, name="k", scopes=["events:read"])

    titles = [e["title"] for e in ApiClient(secret).get("/api/v1/events").json()["data"]]

    assert titles == ["Sandbox event"]


# --- Apps and keys ----------------------------------------------------------------------------------


def test_a_developer_creates_an_app_and_a_key_shown_once_that_works(sandbox):
    client = logged_in_client(make_member(sandbox, Role.DEVELOPER))

    created = client.post(reverse("dev-apps", args=[sandbox.slug]), {"name": "CRM sync", "description": "Nightly"})
    app = App.objects.for_org(sandbox).get()
    assert created["Location"] == reverse("dev-app-detail", args=[sandbox.slug, app.pk])
    response = client.post(
        reverse("dev-app-detail", args=[sandbox.slug, app.pk]), {"name": "server", "scopes": ["events:read", "webhooks:read"]}
    )

    secret = secret_in(response)
    key = ApiKey.objects.for_org(sandbox).get()
    assert secret.startswith("cnv_test_")
    assert (key.app, key.scopes, key.is_test) == (app, ["events:read", "webhooks:read"], True)
    assert secret not in client.get(reverse("dev-app-detail", args=[sandbox.slug, app.pk])).content.decode()
    assert ApiClient(secret).get("/api/v1/events").status_code == 200
    assert AuditEntry.objects.for_org(sandbox).filter(action="accounts.app.created").count() == 1
    assert AuditEntry.objects.for_org(sandbox).filter(action="accounts.api_key.created").count() == 1


def test_a_key_without_scopes_is_explained_beside_the_field(sandbox):
    client = logged_in_client(make_member(sandbox, Role.OWNER))
    app = app_create(org=sandbox, actor=None, name="App")

    response = client.post(reverse("dev-app-detail", args=[sandbox.slug, app.pk]), {"name": "x"})

    assert response.context["form"].errors["scopes"] == ["Choose at least one scope."]
    assert ApiKey.objects.count() == 0


def test_two_apps_cannot_share_a_name(sandbox):
    client = logged_in_client(make_member(sandbox, Role.OWNER))
    app_create(org=sandbox, actor=None, name="CRM sync")

    response = client.post(reverse("dev-apps", args=[sandbox.slug]), {"name": "crm SYNC"})

    assert response.status_code == 422
    assert "exists already" in response.context["form"].errors["name"][0]
    assert App.objects.count() == 1


def test_the_first_key_button_makes_an_app_and_a_key_covering_the_quickstart(sandbox):
    client = logged_in_client(make_member(sandbox, Role.DEVELOPER))

    response = client.post(reverse("dev-first-key", args=[sandbox.slug]))

    secret = secret_in(response)
    key = ApiKey.objects.get()
    assert key.app.name == "My first app"
    assert {"events:read", "registrations:write", "webhooks:write"} <= set(key.scopes)
    assert ApiClient(secret).get("/api/v1/webhooks").status_code == 200


def test_rolling_a_key_keeps_the_old_one_working_until_its_grace_period_ends(sandbox):
    client = logged_in_client(make_member(sandbox, Role.OWNER))
    app = app_create(org=sandbox, actor=None, name="App")
    old, old_secret = api_key_create(org=sandbox, actor=None, name="server", scopes=["events:read"], app=app)

    before = timezone.now()
    response = client.post(reverse("dev-key-roll", args=[sandbox.slug, old.pk]), {"grace": "1h"})

    new_secret = secret_in(response)
    assert f"replaces {old.display}" in response.content.decode()
    assert "The old key works until" in response.content.decode()
    old.refresh_from_db()
    new = ApiKey.objects.exclude(pk=old.pk).get()
    assert (new.name, new.scopes, new.app, new.rolled_from) == ("server", ["events:read"], app, old)
    assert before + timedelta(minutes=59) < old.expires_at <= timezone.now() + timedelta(hours=1)
    assert ApiClient(old_secret).get("/api/v1/events").status_code == 200
    assert ApiClient(new_secret).get("/api/v1/events").status_code == 200
    rolled = AuditEntry.objects.for_org(sandbox).get(action="accounts.api_key.rolled")
    assert rolled.object_id == str(old.pk)
    assert rolled.changes["grace_seconds"] == 3600

    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # the hour is over
    api_keys_forget()

    assert ApiClient(old_secret).get("/api/v1/events").status_code == 401
    assert ApiClient(new_secret).get("/api/v1/events").status_code == 200


def test_rolling_with_no_grace_stops_the_old_key_at_once(sandbox):
    old, old_secret = api_key_create(org=sandbox, actor=None, name="k", scopes=["events:read"])

    _new, new_secret = api_key_roll(org=sandbox, actor=None, api_key_id=old.pk, grace=timedelta(0))

    assert ApiClient(old_secret).get("/api/v1/events").status_code == 401
    assert ApiClient(new_secret).get("/api/v1/events").status_code == 200


def test_a_revoked_key_cannot_be_rolled(sandbox):
    client = logged_in_client(make_member(sandbox, Role.OWNER))
    old, _secret = api_key_create(org=sandbox, actor=None, name="k", scopes=["events:read"])
    client.post(reverse("dev-key-revoke", args=[sandbox.slug, old.pk]))

    response = client.post(reverse("dev-key-roll", args=[sandbox.slug, old.pk]), {"grace": "24h"}, follow=True)

    assert "revoked or expired already" in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_revoking_a_key_stops_it_at_once_and_the_page_says_so(sandbox):
    client = logged_in_client(make_member(sandbox, Role.DEVELOPER))
    app = app_create(org=sandbox, actor=None, name="App")
    key, secret = api_key_create(org=sandbox, actor=None, name="k", scopes=["events:read"], app=app)
    assert ApiClient(secret).get("/api/v1/events").status_code == 200

    response = client.post(reverse("dev-key-revoke", args=[sandbox.slug, key.pk]), follow=True)

    assert ApiClient(secret).get("/api/v1/events").status_code == 401
    assert response.context["keys"][0].state == "revoked"
    assert AuditEntry.objects.for_org(sandbox).filter(action="accounts.api_key.revoked").count() == 1


def test_each_key_shows_when_and_from_where_it_was_last_used(sandbox):
    client = logged_in_client(make_member(sandbox, Role.OWNER))
    app = app_create(org=sandbox, actor=None, name="App")
    _key, secret = api_key_create(org=sandbox, actor=None, name="k", scopes=["events:read"], app=app)

    ApiClient(secret).get("/api/v1/events", REMOTE_ADDR="203.0.113.7")

    page = client.get(reverse("dev-app-detail", args=[sandbox.slug, app.pk])).content.decode()
    key = ApiKey.objects.get()
    assert key.last_used_ip == "203.0.113.7"
    assert key.last_used_at is not None
    assert "203.0.113.7" in page


@pytest.mark.parametrize("page", ["dev-apps", "dev-app-detail"])
def test_key_and_app_lists_cost_the_same_queries_for_one_or_three(sandbox, page):
    client = logged_in_client(make_member(sandbox, Role.OWNER))
    app = app_create(org=sandbox, actor=None, name="App 0")
    url = reverse(page, args=[sandbox.slug, app.pk] if page == "dev-app-detail" else [sandbox.slug])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    api_key_create(org=sandbox, actor=None, name="k0", scopes=["events:read"], app=app)
    api_key_create(org=sandbox, actor=None, name="loose0", scopes=["events:read"])
    one = queries()
    for n in (1, 2):
        other = app_create(org=sandbox, actor=None, name=f"App {n}")
        api_key_create(org=sandbox, actor=None, name=f"k{n}", scopes=["events:read"], app=app)
        api_key_create(org=sandbox, actor=None, name=f"o{n}", scopes=["events:read"], app=other)
        api_key_create(org=sandbox, actor=None, name=f"loose{n}", scopes=["events:read"])

    assert queries() == one


def test_the_old_api_keys_page_leads_to_apps_and_keys(org):
    client = logged_in_client(make_member(org, Role.ADMIN))

    response = client.get(reverse("accounts:api-key-list", args=[org.slug]))

    assert response["Location"] == reverse("dev-apps", args=[org.slug])


def test_another_organizations_app_and_keys_answer_404(org, other_org):
    client = logged_in_client(make_member(org, Role.OWNER))
    theirs = app_create(org=other_org, actor=None, name="Theirs")
    key, secret = api_key_create(org=other_org, actor=None, name="k", scopes=["events:read"], app=theirs)

    assert client.get(reverse("dev-app-detail", args=[org.slug, theirs.pk])).status_code == 404
    assert (
        client.post(reverse("dev-app-detail", args=[org.slug, theirs.pk]), {"name": "x", "scopes": ["events:read"]}).status_code
        == 404
    )
    assert client.post(reverse("dev-key-roll", args=[org.slug, key.pk]), {"grace": "now"}).status_code == 404
    assert client.post(reverse("dev-key-revoke", args=[org.slug, key.pk])).status_code == 404
    assert ApiClient(secret).get("/api/v1/events").status_code == 200
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.VIEWER, Role.CHECKIN])
def test_other_roles_cannot_reach_the_developer_pages(org, role):
    client = logged_in_client(make_member(org, role))

    assert client.get(reverse("dev-home", args=[org.slug])).status_code == 403
    assert client.post(reverse("dev-apps", args=[org.slug]), {"name": "x"}).status_code == 403
    assert App.objects.count() == 0


def test_the_developers_entry_is_in_the_main_nav_for_developers_only(org):
    developer = logged_in_client(make_member(org, Role.DEVELOPER))
    organizer = logged_in_client(make_member(org, Role.ORGANIZER))
    url = reverse("events:dashboard", args=[org.slug])

    assert 'data-testid="nav-developers"' in developer.get(url).content.decode()
    assert 'data-testid="nav-developers"' not in organizer.get(url).content.decode()


# --- Generate test events --------------------------------------------------------------------------


def test_generate_test_events_fires_every_event_type_at_each_enabled_endpoint(sandbox, django_capture_on_commit_callbacks):
    client = logged_in_client(make_member(sandbox, Role.DEVELOPER))
    one = WebhookEndpoint.objects.create(organization=sandbox, url="http://127.0.0.1:9/one")
    two = WebhookEndpoint.objects.create(organization=sandbox, url="http://127.0.0.1:9/two")
    off = WebhookEndpoint.objects.create(organization=sandbox, url="http://127.0.0.1:9/off", enabled=False)

    response = client.post(reverse("dev-test-events", args=[sandbox.slug]))

    assert response["Location"] == reverse("integrations:delivery-list", args=[sandbox.slug])
    for endpoint in (one, two):
        types = sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("outbox_event__event_type", flat=True))
        assert types == sorted(EVENT_TYPES)
    assert len(EVENT_TYPES) == 14
    assert WebhookDelivery.objects.filter(endpoint=off).count() == 0


def test_generate_test_events_without_an_endpoint_says_what_to_do(sandbox):
    client = logged_in_client(make_member(sandbox, Role.DEVELOPER))

    response = client.post(reverse("dev-test-events", args=[sandbox.slug]), follow=True)

    assert "Add (or enable) a webhook endpoint first" in response.content.decode()
    assert WebhookDelivery.objects.count() == 0


# --- Docs --------------------------------------------------------------------------------------------


def _codes_in_source() -> set[str]:
    """Every error code written in the project's code: error classes' ``code`` and error_response(code=...)."""
    found: set[str] = set()
    for folder in ("accounts", "events", "integrations", "portal"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts or "sso" in path.parts:
                continue  # the SSO settings page's errors never reach the API
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    for stmt in node.body:
                        if isinstance(stmt, ast.Assign) and any(
                            (isinstance(t, ast.Name) and t.id == "code") or (isinstance(t, ast.Tuple) and t.elts[0].id == "code")
                            for t in stmt.targets
                            if isinstance(t, ast.Name | ast.Tuple)
                        ):
                            value = stmt.value.elts[0] if isinstance(stmt.value, ast.Tuple) else stmt.value
                            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                                found.add(value.value)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("error_response", "error_body"):
                    for kw in node.keywords:
                        if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                            found.add(kw.value.value)
    return found


def test_the_error_page_lists_every_code_the_api_can_answer_with_an_anchor():
    from portal.api.errors import STATUS_CODES

    page = Client().get(reverse("dev-errors")).content.decode()

    anchors = set(re.findall(r'<tr id="([A-Z_]+)"', page))
    expected = _codes_in_source() | set(STATUS_CODES.values())
    assert {"SOLD_OUT", "KEY_MODE_MISMATCH", "IDEMPOTENCY_KEY_REUSED", "INSUFFICIENT_SCOPE"} <= expected
    assert expected - anchors == set()


def test_the_envelope_documentation_link_points_into_the_error_page(org):
    body = ApiClient("cnv_live_nope").get("/api/v1/events").json()["error"]

    assert body["documentation"] == "/developers/errors/#UNAUTHENTICATED"
    assert 'id="UNAUTHENTICATED"' in Client().get(body["documentation"].split("#")[0]).content.decode()


def test_quickstart_samples_come_from_the_openapi_document():
    schema = dev_docs.openapi_schema()

    page = Client().get(reverse("dev-quickstart")).content.decode()

    for method, path, _why in dev_docs.QUICKSTART_OPERATIONS:
        assert path in schema["paths"] and method in schema["paths"][path]
        assert f"http://testserver{path}" in page
    required = schema["components"]["schemas"]["RegistrationIn"]["required"]
    sample = next(s for s in dev_docs.quickstart_samples(base_url="http://x") if s.path == "/api/v1/registrations")
    assert set(required) <= set(sample.body)
    assert "curl -X POST 'http://x/api/v1/registrations'" in sample.curl
    assert "httpx.post(" in sample.python and '"ticketTypeId": 1,' in sample.python
    assert 'method: "POST"' in sample.javascript and "JSON.stringify(" in sample.javascript
    compile(sample.python, "sample.py", "exec")


def test_a_developer_with_a_sandbox_gets_quickstart_samples_with_its_real_ticket_type():
    from events.models import TicketType

    user = make_user("ada@example.com")
    org = developer_sandbox_create(user=user)
    tt = TicketType.objects.for_org(org).filter(price=0, event__status="published").order_by("event__starts_at").first()

    mine = logged_in_client(user).get(reverse("dev-quickstart")).content.decode()
    anyone = Client().get(reverse("dev-quickstart")).content.decode()

    assert f"&quot;ticketTypeId&quot;: {tt.pk}" in mine
    assert "&quot;ticketTypeId&quot;: 1," in anyone


def test_the_quickstart_samples_really_work_against_a_sandbox():
    from events.models import TicketType

    org = developer_sandbox_create(user=make_user("bo@example.com"))
    _key, secret = api_key_create(org=org, actor=None, name="k", scopes=["events:read", "registrations:write"])
    tt = TicketType.objects.for_org(org).filter(price=0, event__status="published").first()
    samples = dev_docs.quickstart_samples(base_url="", overrides={"ticketTypeId": tt.pk})
    client = ApiClient(secret)

    listed = client.get(samples[0].url)
    registered = client.post(samples[1].path, samples[1].body, content_type="application/json")

    assert listed.status_code == 200
    assert registered.status_code == 201, registered.content
    assert registered.json()["email"] == "ada@example.com"


def test_the_changelog_renders_the_api_changelog():
    page = Client().get(reverse("dev-changelog")).content.decode()

    assert '<h2 id="v1-0">v1.0</h2>' in page
    assert "<code>cnv_test_…</code>" in page
    assert "# " not in page.split('data-testid="changelog"')[1]


def test_the_openapi_document_downloads_as_a_file():
    response = Client().get(reverse("dev-openapi"))

    assert response["Content-Disposition"] == 'attachment; filename="convene-openapi-v1.json"'
    assert response.json()["paths"]["/api/v1/events"]["get"]["summary"] == "List events"
