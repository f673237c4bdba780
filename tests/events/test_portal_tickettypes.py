"""The ticket types page: what is for sale and how much is left, and the forms that change it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import lxml.html
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from events import services
from events.models import TicketType
from tests.conftest import logged_in_client
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db

START = datetime(2030, 6, 1, 7, 0, tzinfo=UTC)  # 09:00 in Berlin (CEST)


@pytest.fixture
def event(org):
    return make_event(org, title="Summer Conf", starts_at=START, ends_at=START + timedelta(hours=10), timezone="Europe/Berlin")


def url(name: str, event, ticket_type=None) -> str:
    args = [event.organization.slug, event.pk] + ([ticket_type.pk] if ticket_type else [])
    return reverse(f"events:{name}", args=args)


def html(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200
    return lxml.html.fromstring(response.content)


def text(element) -> str:
    return " ".join(" ".join(element.itertext()).split())


def rows(doc) -> list[list[str]]:
    return [[text(td) for td in tr.xpath("td")] for tr in doc.xpath('//div[@id="tickettype-table"]//tbody/tr')]


def errors_beside(doc, field: str) -> list[str]:
    return [text(li) for li in doc.xpath(f'//*[@id="field-{field}"]//ul[@class="errorlist"]/li')]


def register(ticket_type, count: int) -> None:
    for i in range(count):
        services.registration_create(
            org=ticket_type.organization, actor=None, ticket_type_id=ticket_type.pk, name=f"Guest {i}", email=f"g{i}@example.com"
        )


def form_data(**overrides) -> dict:
    data = {
        "name": "Standard",
        "description": "",
        "price": "25.00",
        "currency": "EUR",
        "capacity": "50",
        "sales_start": "",
        "sales_end": "",
    }
    data.update(overrides)
    return data


# --- The list -------------------------------------------------------------------------------------


def test_ticket_type_list_shows_price_seats_and_sales_window_in_the_event_time_zone(org, owner_client, event):
    make_ticket_type(
        event,
        name="Early bird",
        price=Decimal("49.00"),
        capacity=3,
        sales_start=datetime(2030, 1, 1, 8, 0, tzinfo=UTC),
        sales_end=datetime(2030, 3, 1, 8, 0, tzinfo=UTC),
    )
    free = make_ticket_type(event, name="Community", capacity=None, description="For meetups")
    services.event_publish(org=org, actor=None, event_id=event.pk)
    register(free, 2)

    doc = html(owner_client.get(url("tickettype-list", event)))

    assert [row[:7] for row in rows(doc)] == [
        ["Early bird", "49.00 EUR", "3", "0", "3", "1 Jan 2030, 09:00 – 1 Mar 2030, 09:00", "Not yet"],
        ["Community For meetups", "Free", "No limit", "2", "Unlimited", "Until the event ends", "On sale"],
    ]


def test_ticket_type_list_keeps_the_organizers_order(owner_client, event):
    make_ticket_type(event, name="Supporter", position=2)
    make_ticket_type(event, name="Standard", position=1)

    doc = html(owner_client.get(url("tickettype-list", event)))

    assert [row[0] for row in rows(doc)] == ["Standard", "Supporter"]


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"capacity": 1}, "Sold out"),
        ({"sales_end": timezone.now() - timedelta(days=1)}, "Ended"),
        ({"sales_start": timezone.now() - timedelta(days=2)}, "On sale"),
    ],
)
def test_ticket_type_list_tells_whether_it_is_on_sale(org, owner_client, event, fields, state):
    ticket_type = make_ticket_type(event, name="Standard", **fields)
    services.event_publish(org=org, actor=None, event_id=event.pk)
    if fields.get("capacity") == 1:
        register(ticket_type, 1)

    doc = html(owner_client.get(url("tickettype-list", event)))

    assert rows(doc)[0][6] == state


def test_ticket_type_list_of_a_draft_says_sales_open_once_published(owner_client, event):
    make_ticket_type(event)

    doc = html(owner_client.get(url("tickettype-list", event)))

    assert rows(doc)[0][6] == "Once published"


def test_ticket_type_list_shows_an_empty_state_with_a_way_to_add_one(owner_client, event):
    doc = html(owner_client.get(url("tickettype-list", event)))

    (empty,) = doc.xpath('//div[@id="tickettype-table"]//td[@class="empty"]')
    assert empty.text_content().strip() == "No ticket types yet: people need one to register. Add the first ticket type."
    assert doc.xpath('//a[text()="+ New ticket type"]/@href') == [url("tickettype-create", event)]


def test_ticket_type_list_shows_no_controls_to_a_viewer(member, event):
    make_ticket_type(event)
    client = logged_in_client(member(Role.VIEWER))

    doc = html(client.get(url("tickettype-list", event)))

    assert len(rows(doc)) == 1
    assert doc.xpath('//a[contains(@href, "/tickets/")][text()="Edit" or text()="+ New ticket type"]') == []


def test_ticket_type_list_query_count_does_not_grow_with_ticket_types(org, owner_client, event):
    def measure() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(url("tickettype-list", event)).status_code == 200
        return len(ctx.captured_queries)

    make_ticket_type(event, name="One")
    services.event_publish(org=org, actor=None, event_id=event.pk)
    one = measure()
    register(make_ticket_type(event, name="Two", price=Decimal("10")), 2)
    make_ticket_type(event, name="Three", capacity=None)
    three = measure()

    assert one == three


# --- Create and edit ------------------------------------------------------------------------------


def test_ticket_type_create_saves_it_and_goes_back_to_the_list(owner_client, event):
    response = owner_client.post(
        url("tickettype-create", event), form_data(currency="usd", sales_end="2030-05-31T18:00"), follow=True
    )

    ticket_type = TicketType.objects.get(event=event)
    assert (ticket_type.name, ticket_type.price, ticket_type.currency, ticket_type.capacity) == (
        "Standard",
        Decimal("25.00"),
        "USD",
        50,
    )
    assert ticket_type.sales_end == datetime(2030, 5, 31, 16, 0, tzinfo=UTC)
    assert response.redirect_chain == [(url("tickettype-list", event), 302)]
    assert rows(html(response))[0][:2] == ["Standard", "25.00 USD"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"currency": "E1"}, "currency", "Use a three-letter currency code such as EUR or USD."),
        ({"sales_start": "2030-05-02T10:00", "sales_end": "2030-05-01T10:00"}, "sales_end", "Sales must end after they start."),
        ({"price": "-1"}, "price", "The price cannot be negative."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_ticket_type_create_error_appears_beside_its_field(owner_client, event, overrides, field, message):
    response = owner_client.post(url("tickettype-create", event), form_data(**overrides))

    doc = html(response)
    assert errors_beside(doc, field) == [message]
    assert TicketType.objects.filter(event=event).count() == 0


def test_ticket_type_create_on_a_cancelled_event_is_refused_with_a_message(org, owner_client, event):
    services.event_cancel(org=org, actor=None, event_id=event.pk, reason="Venue flooded")

    doc = html(owner_client.post(url("tickettype-create", event), form_data()))

    assert [text(li) for li in doc.xpath('//ul[contains(@class, "nonfield")]/li')] == [
        "A cancelled event cannot get new ticket types."
    ]
    assert TicketType.objects.filter(event=event).count() == 0


def test_ticket_type_edit_shows_the_current_values_in_the_event_time_zone(owner_client, event):
    ticket_type = make_ticket_type(event, name="Standard", sales_start=datetime(2030, 2, 1, 11, 0, tzinfo=UTC))

    doc = html(owner_client.get(url("tickettype-edit", event, ticket_type)))

    assert doc.xpath('//input[@name="name"]/@value') == ["Standard"]
    assert doc.xpath('//input[@name="sales_start"]/@value') == ["2030-02-01T12:00"]


def test_ticket_type_edit_saves_the_changes(owner_client, event):
    ticket_type = make_ticket_type(event, name="Standard", capacity=100)

    response = owner_client.post(url("tickettype-edit", event, ticket_type), form_data(name="Regular", capacity="80", price="0"))

    assert response.status_code == 302
    ticket_type.refresh_from_db()
    assert (ticket_type.name, ticket_type.capacity, ticket_type.price) == ("Regular", 80, Decimal("0.00"))


def test_ticket_type_edit_refuses_a_capacity_below_the_seats_taken(org, owner_client, event):
    ticket_type = make_ticket_type(event, name="Standard", capacity=10)
    services.event_publish(org=org, actor=None, event_id=event.pk)
    register(ticket_type, 3)

    response = owner_client.post(url("tickettype-edit", event, ticket_type), form_data(name="Standard", price="0", capacity="2"))

    assert errors_beside(html(response), "capacity") == ["3 seats are already taken: the capacity cannot be lower."]
    ticket_type.refresh_from_db()
    assert ticket_type.capacity == 10


# --- Permissions and tenancy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name"),
    [("get", "tickettype-create"), ("post", "tickettype-create"), ("get", "tickettype-edit"), ("post", "tickettype-edit")],
)
def test_ticket_type_writes_are_forbidden_to_a_viewer(member, event, method, name):
    ticket_type = make_ticket_type(event, name="Untouched")
    client = logged_in_client(member(Role.VIEWER))

    response = getattr(client, method)(url(name, event, ticket_type if name.endswith("edit") else None), form_data(name="Hacked"))

    assert response.status_code == 403
    assert list(TicketType.objects.filter(event=event).values_list("name", flat=True)) == ["Untouched"]


def test_ticket_type_list_is_open_to_a_viewer(member, event):
    client = logged_in_client(member(Role.VIEWER))

    assert client.get(url("tickettype-list", event)).status_code == 200


@pytest.mark.parametrize("name", ["tickettype-list", "tickettype-create"])
def test_another_organizations_event_is_not_found(org, owner_client, other_org, name):
    foreign = other_org.events.get()

    response = owner_client.get(reverse(f"events:{name}", args=[org.slug, foreign.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organizations_ticket_type_is_not_found(org, owner_client, other_org, event, method):
    foreign = other_org.events.get().ticket_types.get()

    response = getattr(owner_client, method)(
        reverse("events:tickettype-edit", args=[org.slug, event.pk, foreign.pk]), form_data()
    )

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert (foreign.name, foreign.price, foreign.capacity) == ("General", Decimal("0.00"), 100)


def test_a_ticket_type_of_another_event_of_the_same_organization_is_not_found(org, owner_client, event):
    other = make_event(org, title="Other")
    ticket_type = make_ticket_type(other)

    response = owner_client.get(url("tickettype-edit", event, ticket_type))

    assert response.status_code == 404
