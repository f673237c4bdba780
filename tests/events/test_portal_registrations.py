"""The organizer's registrations table: filters, pagination, bulk confirm / cancel and the CSV export."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from events import services
from events.models import Registration, RegistrationStatus
from integrations.models import OutboxEvent
from tests.factories import make_event, make_ticket_type

HX = {"HX-Request": "true"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _register(event, name: str, *, ticket_type=None, email: str | None = None) -> Registration:
    tt = ticket_type or event.ticket_types.first()
    email = email or f"{name.lower().replace(' ', '.').strip('=+-@')}@example.com"
    return services.registration_create(org=event.organization, actor=None, ticket_type_id=tt.pk, name=name, email=email)


def _list_url(org, event, query: str = "") -> str:
    url = reverse("events:registration-list", args=[org.slug, event.pk])
    return f"{url}?{query}" if query else url


def _names(response) -> list[str]:
    return [reg.name for reg in response.context["page"]]


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


@pytest.fixture
def event(org):
    return make_event(org, publish=True, title="Registrations event", capacity=None)


@pytest.fixture
def people(event):
    """Ada (General, confirmed, checked in), Grace (VIP, confirmed), Linus (VIP paid: pending), Ken (cancelled)."""
    vip = make_ticket_type(event, name="VIP", capacity=None)
    paid = make_ticket_type(event, name="Supporter", capacity=None, price=Decimal("20.00"))
    ada = _register(event, "Ada Lovelace")
    grace = _register(event, "Grace Hopper", ticket_type=vip)
    linus = _register(event, "Linus Torvalds", ticket_type=paid)
    ken = _register(event, "Ken Thompson")
    services.registration_cancel(org=event.organization, actor=None, registration_id=ken.pk)
    services.checkin_perform(org=event.organization, actor=None, registration_id=ada.pk)
    return {"ada": ada, "grace": grace, "linus": linus, "ken": ken, "vip": vip, "paid": paid}


# --- Table -----------------------------------------------------------------------------------------


def test_registration_list_shows_each_registration_with_its_details(organizer_client, org, event, people):
    ada = Registration.objects.select_related("checkin").get(pk=people["ada"].pk)

    response = organizer_client.get(_list_url(org, event))

    assert response.status_code == 200
    html = response.content.decode()
    assert _names(response) == ["Ken Thompson", "Linus Torvalds", "Grace Hopper", "Ada Lovelace"]
    assert "ada.lovelace@example.com" in html
    assert ada.code in html
    assert '<span class="badge badge-pending_payment">Pending payment</span>' in html
    registered = timezone.localtime(ada.created_at, event.tz)
    checked_in = timezone.localtime(ada.checkin.checked_in_at, event.tz)
    assert f"{registered.day} {registered:%b %Y, %H:%M}" in html  # event time zone (Europe/Berlin), not UTC
    assert f"{checked_in.day} {checked_in:%b, %H:%M}" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=grace", ["Grace Hopper"]),
        ("q=LINUS.TORVALDS%40example", ["Linus Torvalds"]),
        ("status=confirmed", ["Grace Hopper", "Ada Lovelace"]),
        ("status=cancelled", ["Ken Thompson"]),
        ("checked_in=yes", ["Ada Lovelace"]),
        ("checked_in=no", ["Ken Thompson", "Linus Torvalds", "Grace Hopper"]),
        ("status=confirmed&checked_in=no", ["Grace Hopper"]),
        ("status=nonsense", ["Ken Thompson", "Linus Torvalds", "Grace Hopper", "Ada Lovelace"]),
    ],
)
def test_registration_list_filters_return_the_matching_rows(organizer_client, org, event, people, query, expected):
    response = organizer_client.get(_list_url(org, event, query))

    assert _names(response) == expected


def test_registration_list_searches_by_exact_code(organizer_client, org, event, people):
    response = organizer_client.get(_list_url(org, event, f"q={people['grace'].code.lower()}"))

    assert _names(response) == ["Grace Hopper"]


def test_registration_list_filters_by_ticket_type(organizer_client, org, event, people):
    response = organizer_client.get(_list_url(org, event, f"ticket_type={people['vip'].pk}"))

    assert _names(response) == ["Grace Hopper"]


def test_registration_list_leaves_out_other_events(organizer_client, org, event, people):
    other_event = make_event(org, publish=True, title="Another event")
    _register(other_event, "Someone Else")

    response = organizer_client.get(_list_url(org, event))

    assert "Someone Else" not in _names(response)
    assert len(_names(response)) == 4


def test_registration_list_htmx_request_gets_only_the_table(organizer_client, org, event, people):
    response = organizer_client.get(_list_url(org, event, "q=ada"), headers=HX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div class="card flush" id="registration-table">')
    assert "<html" not in html
    assert _names(response) == ["Ada Lovelace"]


def test_registration_list_paginates_fifty_per_page_keeping_filters(organizer_client, org, event):
    for i in range(52):
        _register(event, f"Person {i:02d}")

    first = organizer_client.get(_list_url(org, event, "q=person"))
    second = organizer_client.get(_list_url(org, event, "q=person&page=2"))

    assert len(_names(first)) == 50
    assert _names(second) == ["Person 01", "Person 00"]
    assert 'href="?q=person&page=2"' in first.content.decode()


def test_registration_list_query_count_does_not_grow_with_rows(organizer_client, org, event, django_assert_num_queries):
    _register(event, "Only One")
    with CaptureQueriesContext(connection) as one:
        organizer_client.get(_list_url(org, event))
    services.checkin_perform(org=org, actor=None, registration_id=_register(event, "Second One").pk)
    _register(event, "Third One")

    with django_assert_num_queries(len(one.captured_queries)):
        response = organizer_client.get(_list_url(org, event))

    assert len(_names(response)) == 3


@pytest.mark.parametrize("role", [Role.CHECKIN, Role.DEVELOPER])
def test_registration_list_is_forbidden_to_roles_without_access(member, org, event, role):
    client = _client(member(role))

    list_response = client.get(_list_url(org, event))
    export_response = client.get(reverse("events:registration-export", args=[org.slug, event.pk]))

    assert (list_response.status_code, export_response.status_code) == (403, 403)


def test_registration_list_of_another_organizations_event_is_404(organizer_client, org, other_org):
    foreign = other_org.events.get()

    responses = [
        organizer_client.get(reverse("events:registration-list", args=[org.slug, foreign.pk])),
        organizer_client.get(reverse("events:registration-export", args=[org.slug, foreign.pk])),
        organizer_client.post(reverse("events:registration-bulk", args=[org.slug, foreign.pk]), {"action": "cancel"}),
        organizer_client.get(reverse("events:registration-bulk", args=[org.slug, foreign.pk])),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]


# --- CSV export ------------------------------------------------------------------------------------


def test_registration_export_contains_exactly_the_filtered_rows_of_all_pages(organizer_client, org, event):
    vip = make_ticket_type(event, name="VIP", capacity=None)
    for i in range(55):
        _register(event, f"Vip {i:02d}", ticket_type=vip)
    _register(event, "General Person")

    response = organizer_client.get(reverse("events:registration-export", args=[org.slug, event.pk]) + f"?ticket_type={vip.pk}")

    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}-registrations.csv"'
    rows = _csv_rows(response)
    assert rows[0] == ["Name", "E-mail", "Ticket type", "Status", "Code", "Registered at", "Checked in at"]
    assert sorted(row[0] for row in rows[1:]) == [f"Vip {i:02d}" for i in range(55)]


def test_registration_export_row_matches_the_registration(organizer_client, org, event, people):
    ada = Registration.objects.select_related("checkin").get(pk=people["ada"].pk)

    response = organizer_client.get(reverse("events:registration-export", args=[org.slug, event.pk]) + "?q=ada")

    local = lambda value: timezone.localtime(value, event.tz).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    assert _csv_rows(response)[1:] == [
        [
            "Ada Lovelace",
            "ada.lovelace@example.com",
            "General",
            "Confirmed",
            ada.code,
            local(ada.created_at),
            local(ada.checkin.checked_in_at),
        ],
    ]


def test_registration_export_neutralises_spreadsheet_formulas(organizer_client, org, event):
    for i, name in enumerate(['=HYPERLINK("http://evil.test")', "+41 SUM", "-2+3", "@cmd", "Plain Name"]):
        _register(event, name, email=f"person{i}@example.com")

    response = organizer_client.get(reverse("events:registration-export", args=[org.slug, event.pk]))

    names = sorted(row[0] for row in _csv_rows(response)[1:])
    assert names == ["'+41 SUM", "'-2+3", '\'=HYPERLINK("http://evil.test")', "'@cmd", "Plain Name"]


# --- Bulk actions ----------------------------------------------------------------------------------


def _bulk(client, org, event, ids, action, query: str = "", htmx: bool = True):
    url = reverse("events:registration-bulk", args=[org.slug, event.pk]) + (f"?{query}" if query else "")
    return client.post(url, {"ids": [str(i) for i in ids], "action": action}, headers=HX if htmx else {})


def test_registration_bulk_confirm_confirms_and_publishes(organizer_client, org, event, people):
    linus, grace = people["linus"], people["grace"]

    with_outbox_before = OutboxEvent.objects.filter(event_type="registration.confirmed").count()
    response = _bulk(organizer_client, org, event, [linus.pk, grace.pk], "confirm")

    linus.refresh_from_db()
    assert linus.status == RegistrationStatus.CONFIRMED
    published = OutboxEvent.objects.filter(event_type="registration.confirmed").order_by("created_at")
    assert published.count() == with_outbox_before + 1
    assert published.last().payload["id"] == linus.pk
    assert "Confirmed 1 registration. 1 skipped (already confirmed or cancelled)." in response.content.decode()


def test_registration_bulk_cancel_cancels_publishes_and_keeps_the_filters(organizer_client, org, event, people):
    ada, grace, ken = people["ada"], people["grace"], people["ken"]

    response = _bulk(organizer_client, org, event, [ada.pk, grace.pk, ken.pk], "cancel", query="status=confirmed")

    assert set(Registration.objects.filter(pk__in=[ada.pk, grace.pk, ken.pk]).values_list("status", flat=True)) == {"cancelled"}
    cancelled_ids = sorted(
        e.payload["id"] for e in OutboxEvent.objects.filter(event_type="registration.cancelled", payload__eventId=event.pk)
    )
    assert cancelled_ids == sorted([ken.pk, ada.pk, grace.pk])
    html = response.content.decode()
    assert "Cancelled 2 registrations. 1 skipped (already cancelled)." in html
    assert html.lstrip().startswith('<div class="card flush" id="registration-table">')
    assert _names(response) == []  # still filtered on "confirmed": both rows left the table
    assert "No registration matches these filters." in html


def test_registration_bulk_without_selection_says_so(organizer_client, org, event, people):
    response = _bulk(organizer_client, org, event, [], "cancel")

    assert "Select at least one registration first" in response.content.decode()
    assert Registration.objects.filter(status=RegistrationStatus.CANCELLED).count() == 1


def test_registration_bulk_skips_another_organizations_registrations(organizer_client, org, event, other_org):
    foreign = Registration.objects.get(organization=other_org)

    response = _bulk(organizer_client, org, event, [foreign.pk], "cancel")

    foreign.refresh_from_db()
    assert foreign.status == RegistrationStatus.CONFIRMED
    assert "Cancelled 0 registrations. 1 skipped (already cancelled)." in response.content.decode()


def test_registration_bulk_without_htmx_redirects_back_with_a_message(organizer_client, org, event, people):
    response = _bulk(organizer_client, org, event, [people["grace"].pk], "cancel", query="q=grace&page=1", htmx=False)

    assert response.status_code == 302
    assert response["Location"] == _list_url(org, event, "q=grace")
    page = organizer_client.get(response["Location"])
    assert "Cancelled 1 registration." in page.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CHECKIN])
def test_registration_bulk_is_forbidden_without_edit_permission(member, org, event, people, role):
    client = _client(member(role))

    response = _bulk(client, org, event, [people["grace"].pk], "cancel")

    people["grace"].refresh_from_db()
    assert response.status_code == 403
    assert people["grace"].status == RegistrationStatus.CONFIRMED


def test_registration_list_viewer_sees_the_table_without_bulk_actions(member, org, event, people):
    client = _client(member(Role.VIEWER))

    response = client.get(_list_url(org, event))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="bulk-cancel"' not in html
    assert 'name="ids"' not in html
    assert 'data-testid="export-csv"' in html
