"""API usage: every request made with a key is counted and shown on the developer's usage page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone

from accounts.models import API_SCOPES, ApiRequest, Role
from accounts.services import api_key_create, app_create
from portal import usage
from portal.api import middleware
from portal.api.auth import api_keys_forget, principal_from_bearer
from tests.factories import make_event, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def counting(settings):
    """Rows written as soon as a request is answered; fresh rate limits, key cache and buffer."""
    settings.API_USAGE_FLUSH = "sync"
    cache.clear()
    api_keys_forget()
    usage.usage_discard()
    yield
    usage.usage_discard()
    cache.clear()
    api_keys_forget()


def api(secret: str, path: str, correlation_id: str | None = None, method: str = "get"):
    headers = {"Authorization": f"Bearer {secret}"}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    return getattr(Client(), method)(path, headers=headers)


@pytest.fixture
def key(org):
    return api_key_create(org=org, actor=None, name="Main key", scopes=list(API_SCOPES))


@pytest.fixture
def developer(org):
    client = Client()
    client.force_login(make_member(org, Role.DEVELOPER))
    return client


def page(client: Client, org, **params):
    return client.get(reverse("dev-usage", args=[org.slug]), params)


def recorded(org, *, correlation_id: str, ago: timedelta, **fields) -> ApiRequest:
    """A request as the recorder stores it, made ``ago`` from now."""
    values = {"credential_id": "key:x", "method": "GET", "path": "/api/v1/events", "endpoint": "/api/v1/events"}
    values |= {"status": 200, "duration_ms": 1.0} | fields
    return ApiRequest(organization=org, correlation_id=correlation_id, created_at=timezone.now() - ago, **values)


def rows(response) -> str:
    """The HTML of the last-requests table."""
    html = response.content.decode()
    start = html.index('id="request-table"')
    return html[start : html.index("</table>", start)]


def test_request_made_with_a_key_appears_in_the_last_requests_with_its_correlation_id(org, key, developer):
    event = make_event(org, publish=True)

    answered = api(key[1], f"/api/v1/events/{event.pk}", correlation_id="req-4711-abc")

    assert answered.status_code == 200
    shown = page(developer, org)
    assert shown.status_code == 200
    [recent] = shown.context["recent"]
    assert (recent.method, recent.path, recent.status, recent.correlation_id) == (
        "GET",
        f"/api/v1/events/{event.pk}",
        200,
        "req-4711-abc",
    )
    assert recent.api_key_id == key[0].pk
    assert "req-4711-abc" in rows(shown)
    assert f"/api/v1/events/{event.pk}" in rows(shown)


def test_requests_are_counted_per_route_template(org, key, developer):
    first, second = make_event(org, title="One"), make_event(org, title="Two")

    api(key[1], f"/api/v1/events/{first.pk}")
    api(key[1], f"/api/v1/events/{second.pk}")
    api(key[1], f"/api/v1/events/{first.pk}/sessions")
    api(key[1], "/api/v1/events")

    shown = page(developer, org)
    counts = {(e.method, e.endpoint): e.requests for e in shown.context["overview"].endpoints}
    assert counts == {
        ("GET", "/api/v1/events/{event_id}"): 2,
        ("GET", "/api/v1/events/{event_id}/sessions"): 1,
        ("GET", "/api/v1/events"): 1,
    }
    assert "<code>/api/v1/events/{event_id}</code>" in shown.content.decode()


def test_errors_count_in_the_error_rate(org, key, developer):
    event = make_event(org)

    api(key[1], f"/api/v1/events/{event.pk}")
    api(key[1], "/api/v1/events")
    api(key[1], "/api/v1/events/999999")  # 404
    api(key[1], "/api/v1/nowhere")  # 404, no such endpoint

    overview = page(developer, org).context["overview"]
    assert (overview.requests, overview.errors, overview.error_rate) == (4, 2, 50.0)
    today = overview.buckets[-1]
    assert (today.requests, today.errors, today.error_rate) == (4, 2, 50.0)
    by_endpoint = {e.endpoint: (e.requests, e.errors) for e in overview.endpoints}
    assert by_endpoint["/api/v1/events/{event_id}"] == (2, 1)
    assert by_endpoint[""] == (1, 1)


def test_a_429_counts_as_a_rate_limit_hit(org, key, developer, monkeypatch):
    monkeypatch.setitem(middleware.TIERS, "user", (1, 1))  # one request a minute

    assert api(key[1], "/api/v1/events").status_code == 200
    assert api(key[1], "/api/v1/events", correlation_id="too-fast").status_code == 429

    overview = page(developer, org).context["overview"]
    assert (overview.requests, overview.rate_limited, overview.errors) == (2, 1, 1)
    assert overview.buckets[-1].rate_limited == 1
    refused = ApiRequest.objects.get(correlation_id="too-fast")
    # refused before routing, yet counted against its endpoint
    assert (refused.status, refused.rate_limited, refused.endpoint) == (429, True, "/api/v1/events")


def test_p95_latency_per_endpoint_and_period(org, developer):
    ApiRequest.objects.bulk_create(
        recorded(org, correlation_id=f"c{ms}", ago=timedelta(minutes=1), duration_ms=float(ms)) for ms in range(1, 101)
    )

    overview = page(developer, org, period="24h").context["overview"]

    assert overview.p95 == pytest.approx(95.05)
    assert overview.endpoints[0].p95 == pytest.approx(95.05)
    assert overview.buckets[-1].p95 == pytest.approx(95.05)
    assert len(overview.buckets) == 24


def test_another_organizations_usage_is_never_shown(org, other_org, key, developer):
    other_key, other_secret = api_key_create(org=other_org, actor=None, name="Globex key", scopes=["events:read"])
    api(other_secret, "/api/v1/events", correlation_id="globex-secret-call")
    api(key[1], "/api/v1/events", correlation_id="acme-call")

    mine = page(developer, org)
    asked_for_theirs = page(developer, org, key=other_key.pk)

    for shown in (mine, asked_for_theirs):
        assert [r.correlation_id for r in shown.context["recent"]] == ["acme-call"]
        assert shown.context["overview"].requests == 1
        assert "globex-secret-call" not in shown.content.decode()
    # and their own page is theirs: ours is a 404 for them
    outsider = Client()
    outsider.force_login(make_member(other_org, Role.DEVELOPER))
    assert [r.correlation_id for r in page(outsider, other_org).context["recent"]] == ["globex-secret-call"]
    assert page(outsider, org).status_code == 404


def test_filters_by_app_and_by_key(org, developer):
    app = app_create(org=org, actor=None, name="Check-in app")
    in_app, in_app_secret = api_key_create(org=org, actor=None, name="App key", scopes=["events:read"], app=app)
    loose, loose_secret = api_key_create(org=org, actor=None, name="Script key", scopes=["events:read"])
    api(in_app_secret, "/api/v1/events", correlation_id="from-app")
    api(loose_secret, "/api/v1/events", correlation_id="from-script")
    api(loose_secret, "/api/v1/events/424242", correlation_id="from-script-404")

    def shown(**params):
        response = page(developer, org, **params)
        return sorted(r.correlation_id for r in response.context["recent"]), response.context["overview"].requests

    assert shown() == (["from-app", "from-script", "from-script-404"], 3)
    assert shown(app=app.pk) == (["from-app"], 1)
    assert shown(key=loose.pk) == (["from-script", "from-script-404"], 2)
    assert shown(key=in_app.pk) == (["from-app"], 1)
    assert ApiRequest.objects.get(correlation_id="from-app").app_id == app.pk


def test_the_last_requests_are_searchable_by_status_path_and_correlation_id(org, key, developer):
    event = make_event(org)
    api(key[1], f"/api/v1/events/{event.pk}", correlation_id="find-me-1")
    api(key[1], "/api/v1/events/999999", correlation_id="missing-2")
    api(key[1], "/api/v1/registrations", correlation_id="regs-3")

    def found(q: str) -> list[str]:
        response = developer.get(
            reverse("dev-usage", args=[org.slug]), {"q": q}, headers={"HX-Request": "true", "HX-Target": "request-table"}
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="request-table"')  # the table alone
        return sorted(re.findall(r'data-testid="request-correlation-id">([^<]*)<', html))

    assert found("404") == ["missing-2"]
    assert found("2xx") == ["find-me-1", "regs-3"]
    assert found("registrations") == ["regs-3"]
    assert found("find-me") == ["find-me-1"]
    assert found("") == ["find-me-1", "missing-2", "regs-3"]


def test_the_last_requests_stop_at_one_hundred(org, developer):
    ApiRequest.objects.bulk_create(recorded(org, correlation_id=f"c-{i}", ago=timedelta(seconds=i)) for i in range(120))

    shown = page(developer, org)

    assert len(shown.context["recent"]) == 100
    assert shown.context["recent"][0].correlation_id == "c-0"  # newest first
    assert shown.context["overview"].requests == 120


def test_a_failure_to_record_usage_never_fails_the_request(org, key, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(usage, "_insert", broken)

    answered = api(key[1], "/api/v1/events", correlation_id="kept-for-later")

    assert answered.status_code == 200
    assert answered.json()["data"] == []
    assert ApiRequest.objects.count() == 0
    monkeypatch.undo()
    assert usage.usage_flush() == 1  # kept, and written once the database is back
    assert ApiRequest.objects.get().correlation_id == "kept-for-later"


def test_a_failure_while_counting_never_fails_the_request(org, key, monkeypatch):
    monkeypatch.setattr(usage, "_buffer", None)  # appending to it raises

    answered = api(key[1], "/api/v1/events")

    monkeypatch.undo()
    assert answered.status_code == 200


def test_counting_adds_no_query_to_the_request_when_buffered(org, key, settings):
    api(key[1], "/api/v1/events")  # warm up: the key is remembered, last_used_at written
    settings.API_USAGE = False
    off_count = len(_queries(lambda: api(key[1], "/api/v1/events")))
    settings.API_USAGE, settings.API_USAGE_FLUSH = True, "manual"
    on_count = len(_queries(lambda: api(key[1], "/api/v1/events")))

    assert on_count == off_count
    assert ApiRequest.objects.count() == 1  # the warm-up's: the last one waits in the buffer
    assert usage.usage_flush() == 1
    assert ApiRequest.objects.count() == 2


def _queries(call) -> list:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return ctx.captured_queries


def test_anonymous_requests_are_not_counted(org):
    assert Client().get("/api/v1/events").status_code == 401
    assert ApiRequest.objects.count() == 0


def test_rows_older_than_thirty_days_are_pruned(org):
    ApiRequest.objects.bulk_create(recorded(org, correlation_id=f"{days}d", ago=timedelta(days=days)) for days in (31, 29))

    assert usage.usage_prune() == 1
    assert list(ApiRequest.objects.values_list("correlation_id", flat=True)) == ["29d"]


def test_the_period_filter_narrows_charts_and_list(org, developer):
    ApiRequest.objects.bulk_create(
        recorded(org, correlation_id=cid, ago=timedelta(hours=hours))
        for hours, cid in ((2, "recent"), (24 * 5, "this-week"), (24 * 20, "this-month"))
    )

    def shown(period: str) -> tuple[int, int]:
        response = page(developer, org, period=period)
        return response.context["overview"].requests, len(response.context["overview"].buckets)

    assert shown("24h") == (1, 24)
    assert shown("7d") == (2, 7)
    assert shown("30d") == (3, 30)


def test_an_empty_period_explains_how_to_make_a_request(org, developer):
    response = page(developer, org)

    assert response.status_code == 200
    assert "No API requests in the last 7 days" in response.content.decode()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER])
def test_roles_that_manage_keys_see_usage(org, role):
    client = Client()
    client.force_login(make_member(org, role))
    assert page(client, org).status_code == 200


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.CHECKIN, Role.VIEWER])
def test_other_roles_may_not_see_usage(org, role):
    client = Client()
    client.force_login(make_member(org, role))
    assert page(client, org).status_code == 403


def test_the_page_makes_as_many_queries_for_three_endpoints_as_for_one(org, key, developer):
    event = make_event(org)
    api(key[1], "/api/v1/events")
    one = len(_queries(lambda: page(developer, org)))
    api(key[1], f"/api/v1/events/{event.pk}")
    api(key[1], f"/api/v1/events/{event.pk}/sessions")
    api(key[1], "/api/v1/registrations")

    three = len(_queries(lambda: page(developer, org)))

    assert three == one


def test_a_burst_of_requests_is_written_in_full_by_one_flush(org, key, settings):
    settings.API_USAGE_FLUSH = "manual"
    principal = principal_from_bearer(key[1])
    request = RequestFactory().get("/api/v1/events?pageSize=50")
    request.resolver_match, request.correlation_id = resolve("/api/v1/events"), "burst"
    for status in [200] * 240 + [429] * 10:
        usage.usage_record(request=request, response=HttpResponse(status=status), principal=principal, started=0.0)

    assert ApiRequest.objects.count() == 0  # nothing written while answering
    assert usage.usage_flush() == 250

    assert ApiRequest.objects.filter(endpoint="/api/v1/events", path="/api/v1/events?pageSize=50").count() == 250
    assert ApiRequest.objects.filter(rate_limited=True).count() == 10
