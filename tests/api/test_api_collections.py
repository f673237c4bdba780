"""What every /api/v1 collection does: cursor pagination, CSV, and one documented shape."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core import signing

from events import services
from tests.api.test_api_conventions import assert_envelope
from tests.factories import make_event

pytestmark = pytest.mark.django_db


def links_of(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"])}


def walk(client, url: str) -> tuple[list[int], list]:
    """Follow nextCursor from the first page to the last: (every id seen, every response)."""
    ids, responses = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [item["id"] for item in body["data"]]
        responses.append(response)
        url = links_of(response).get("next")
    return ids, responses


def register(event, n: int, *, prefix: str = "person") -> list:
    tt = event.ticket_types.first()
    return [
        services.registration_create(
            org=event.organization, actor=None, ticket_type_id=tt.pk, name=f"{prefix} {i:02}", email=f"{prefix}{i}@example.com"
        )
        for i in range(n)
    ]


# --- Cursor ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt", "title", "-title,startsAt", "-createdAt"])
def test_a_cursor_walks_every_event_once_in_the_order_asked(org, api_client, sort):
    for i in range(7):
        make_event(org, title=f"Event {i % 3}", days=(i * 5) % 7 + 1)  # repeated titles: ties broken by id

    expected = [e["id"] for e in api_client.get(f"/api/v1/events?sort={sort}&pageSize=100").json()["data"]]
    ids, responses = walk(api_client, f"/api/v1/events?sort={sort}&cursor=&limit=3")

    assert ids == expected
    assert [len(r.json()["data"]) for r in responses] == [3, 3, 1]
    assert responses[-1].json()["pagination"]["nextCursor"] is None


def test_a_cursor_page_says_limit_and_next_cursor_and_links_first_and_next(org, api_client):
    for i in range(3):
        make_event(org, title=f"E{i}", days=i + 1)

    response = api_client.get("/api/v1/events?status=draft&cursor=&limit=2")

    pagination = response.json()["pagination"]
    assert {k: v for k, v in pagination.items() if v is not None} == {"limit": 2, "nextCursor": pagination["nextCursor"]}
    links = links_of(response)
    assert set(links) == {"first", "next"}
    assert links["first"].endswith("/api/v1/events?status=draft&cursor=&limit=2")
    assert "status=draft" in links["next"] and "X-Total-Count" not in response


def test_rows_added_during_a_cursor_walk_neither_repeat_nor_shift_the_pages(api_client, published_event):
    first = register(published_event, 4, prefix="early")
    page = api_client.get("/api/v1/registrations?cursor=&limit=2").json()  # newest first

    register(published_event, 3, prefix="late")  # arrive before the second page is read
    rest, _ = walk(api_client, f"/api/v1/registrations?cursor={page['pagination']['nextCursor']}&limit=2")

    assert [r["id"] for r in page["data"]] + rest == [r.pk for r in reversed(first)]


def test_page_and_offset_pages_carry_a_cursor_to_continue_with(org, api_client):
    events = [make_event(org, title=f"E{i}", days=i + 1) for i in range(5)]

    page = api_client.get("/api/v1/events?page=1&pageSize=2").json()
    after = api_client.get(f"/api/v1/events?cursor={page['pagination']['nextCursor']}&limit=2").json()
    last = api_client.get("/api/v1/events?page=3&pageSize=2").json()

    assert [e["id"] for e in after["data"]] == [events[2].pk, events[3].pk]
    assert last["pagination"]["nextCursor"] is None


def test_a_tampered_cursor_answers_400_invalid_cursor(org, api_client):
    for i in range(3):
        make_event(org, days=i + 1)
    cursor = api_client.get("/api/v1/events?cursor=&limit=1").json()["pagination"]["nextCursor"]
    payload, rest = cursor.split(":", 1)
    forged = signing.b64_encode(signing.b64_decode(payload.encode()).replace(b'"v":[', b'"v":[1,')).decode()

    for bad in (f"{forged}:{rest}", cursor[:-2], "garbage"):
        error = assert_envelope(api_client.get(f"/api/v1/events?cursor={bad}&limit=1"), 400, "INVALID_CURSOR")
        assert error["target"] == "cursor"


def test_a_cursor_of_another_sort_or_collection_answers_400(org, api_client, published_event):
    make_event(org, days=2)
    register(published_event, 3)
    events_cursor = api_client.get("/api/v1/events?cursor=&limit=1").json()["pagination"]["nextCursor"]

    assert_envelope(api_client.get(f"/api/v1/events?sort=title&cursor={events_cursor}"), 400, "INVALID_CURSOR")
    assert_envelope(api_client.get(f"/api/v1/registrations?cursor={events_cursor}"), 400, "INVALID_CURSOR")


def test_a_cursor_cannot_be_mixed_with_page_or_offset(api_client):
    error = assert_envelope(api_client.get("/api/v1/events?cursor=&offset=10"), 400, "INVALID_PAGINATION")

    assert error["target"] == "offset"


# --- CSV ------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_streams_the_whole_filtered_sorted_collection(org, api_client):
    events = [make_event(org, title=f"Talk {i:02}", days=i + 1) for i in range(25)]
    make_event(org, title="Published one", publish=True)

    response = api_client.get("/api/v1/events?status=draft&sort=-startsAt&pageSize=5", headers={"Accept": "text/csv"})

    rows = read_csv(response)
    assert response["Content-Disposition"] == 'attachment; filename="events.csv"'
    assert [int(row["id"]) for row in rows] == [e.pk for e in reversed(events)]  # every page, not five
    assert rows[0]["venue.name"] == "Main hall"
    assert rows[0]["links.self"] == f"/api/v1/events/{events[-1].pk}"


def test_csv_cells_are_never_read_as_formulas(org, api_client, published_event):
    tt = published_event.ticket_types.first()
    services.registration_create(
        org=org, actor=None, ticket_type_id=tt.pk, name='=HYPERLINK("http://evil.test","x")', email="x@example.com"
    )

    rows = read_csv(api_client.get("/api/v1/registrations", headers={"Accept": "text/csv"}))

    assert rows[0]["name"] == '\'=HYPERLINK("http://evil.test","x")'
    assert rows[0]["email"] == "x@example.com"


def test_csv_flattens_lists(org, api_client, published_event):
    start = published_event.starts_at
    talks = [
        services.session_create(
            org=org, actor=None, event_id=published_event.pk, title=t, starts_at=start, ends_at=published_event.ends_at
        )
        for t in ("A", "B")
    ]
    tt = published_event.ticket_types.first()
    services.registration_create(
        org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com", session_ids=[t.pk for t in talks]
    )

    rows = read_csv(api_client.get(f"/api/v1/events/{published_event.pk}/attendees", headers={"Accept": "text/csv, */*"}))

    assert rows[0]["sessionIds"] == f"{talks[0].pk}; {talks[1].pk}"
    assert rows[0]["links.ticket"] == f"/api/v1/registrations/{rows[0]['id']}/ticket"


def test_csv_of_an_empty_collection_is_an_empty_file(api_client):
    response = api_client.get("/api/v1/events", headers={"Accept": "text/csv"})

    assert read_csv(response) == []


def test_csv_needs_the_same_scope_as_the_json(org):
    from accounts.services import api_key_create
    from tests.api.conftest import ApiClient

    _key, secret = api_key_create(org=org, actor=None, name="hooks", scopes=["webhooks:read"])

    response = ApiClient(secret).get("/api/v1/registrations", headers={"Accept": "text/csv"})

    assert_envelope(response, 403, "INSUFFICIENT_SCOPE")


# --- One documented shape -------------------------------------------------------------------------


def _collections(schema: dict) -> dict[str, dict]:
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            ok = operation.get("responses", {}).get("200", {})
            if "text/csv" in ok.get("content", {}):
                found[f"{method.upper()} {path}"] = operation
    return found


def test_openapi_documents_csv_paging_and_link_on_every_collection(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()

    collections = _collections(schema)

    expected = {
        "GET /api/v1/events",
        "GET /api/v1/events/{event_id}/children",
        "GET /api/v1/events/{event_id}/sessions",
        "GET /api/v1/registrations",
        "GET /api/v1/events/{event_id}/attendees",
        "GET /api/v1/speakers",
        "GET /api/v1/webhooks",
        "GET /api/v1/webhooks/{endpoint_id}/deliveries",
    }
    assert expected <= set(collections)
    for operation in collections.values():
        assert {"page", "pageSize", "limit", "offset", "cursor"} <= {p["name"] for p in operation["parameters"]}
        assert {"Link", "X-Total-Count"} <= set(operation["responses"]["200"]["headers"])
        assert "Accept: text/csv" in operation["description"]


def _properties(schema: dict, ref: str) -> set[str]:
    return set(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])


@pytest.mark.parametrize(
    ("path", "scope_setup"),
    [
        ("/api/v1/events", "event"),
        ("/api/v1/events/{event}/sessions", "session"),
        ("/api/v1/registrations", "registration"),
        ("/api/v1/events/{event}/attendees", "registration"),
    ],
)
def test_list_items_have_exactly_the_documented_members(org, api_client, published_event, path, scope_setup):
    """Lists are encoded without re-validation: the body must still be the schema the document promises."""
    if scope_setup == "session":
        services.session_create(
            org=org,
            actor=None,
            event_id=published_event.pk,
            title="Talk",
            starts_at=published_event.starts_at,
            ends_at=published_event.ends_at,
        )
    if scope_setup == "registration":
        register(published_event, 1)
    schema = api_client.get("/api/v1/openapi.json").json()
    operation = next(op for key, op in _collections(schema).items() if key == f"GET {path.replace('{event}', '{event_id}')}")
    list_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    list_schema = schema["components"]["schemas"][list_ref.rsplit("/", 1)[-1]]
    item_ref = list_schema["properties"]["data"]["items"]["$ref"]
    pagination_ref = list_schema["properties"]["pagination"]["$ref"]

    body = api_client.get(path.format(event=published_event.pk)).json()

    assert body["data"], "the list should not be empty"
    assert set(body["data"][0]) == _properties(schema, item_ref)
    assert set(body["pagination"]) == _properties(schema, pagination_ref)


def test_list_items_are_exactly_the_resources_the_detail_and_webhooks_show(org, api_client, published_event):
    """Lists build their items from rows, a page at a time: they must equal the one-at-a-time snapshot."""
    from events import snapshots
    from events.models import Event, Registration
    from tests.factories import make_ticket_type

    make_ticket_type(published_event, name="VIP", capacity=None, price=10)
    make_event(org, title="Child", parent_id=published_event.pk)
    talk = services.session_create(
        org=org,
        actor=None,
        event_id=published_event.pk,
        title="Talk",
        starts_at=published_event.starts_at,
        ends_at=published_event.ends_at,
    )
    tt = published_event.ticket_types.first()
    services.registration_create(
        org=org, actor=None, ticket_type_id=tt.pk, name="Ada", email="ada@example.com", session_ids=[talk.pk]
    )
    register(published_event, 2)

    events = api_client.get("/api/v1/events").json()["data"]
    regs = api_client.get("/api/v1/registrations").json()["data"]

    assert events == [snapshots.event_data(e) for e in Event.objects.for_org(org).order_by("starts_at", "id")]
    assert regs == [snapshots.registration_data(r) for r in Registration.objects.for_org(org).order_by("-created_at", "-id")]
    assert [item["sessionIds"] for item in regs if item["name"] == "Ada"] == [[talk.pk]]
