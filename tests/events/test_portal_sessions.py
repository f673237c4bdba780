"""The sessions page: by day in the event's time zone, inline add / edit / cancel, speakers added on the spot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lxml.html
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from events import services
from events.models import Session, Speaker
from tests.conftest import logged_in_client
from tests.factories import make_event

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
START = datetime(2030, 6, 1, 7, 0, tzinfo=UTC)  # Saturday 1 June 2030, 09:00 in Berlin (CEST)


@pytest.fixture
def event(org):
    return make_event(
        org,
        publish=True,
        title="Summer Conf",
        starts_at=START,
        ends_at=START + timedelta(days=1, hours=12),
        timezone="Europe/Berlin",
    )


@pytest.fixture
def speaker(org):
    return services.speaker_create(org=org, actor=None, name="Ada Lovelace", company="Analytical Engines")


def add_session(event, *, title="Keynote", hours=1.0, length=1.0, **fields) -> Session:
    starts = event.starts_at + timedelta(hours=hours)
    data = {"title": title, "starts_at": starts, "ends_at": starts + timedelta(hours=length), "room": "Main hall", **fields}
    return services.session_create(org=event.organization, actor=None, event_id=event.pk, **data)


def url(name: str, event, session=None) -> str:
    args = [event.organization.slug, event.pk] + ([session.pk] if session else [])
    return reverse(f"events:{name}", args=args)


def html(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200
    return lxml.html.fromstring(response.content)


def fragment(response) -> lxml.html.HtmlElement:
    """An HTMX answer: table rows parse inside a table."""
    assert response.status_code == 200
    return lxml.html.fromstring(f"<table><tbody>{response.content.decode()}</tbody></table>")


def text(element) -> str:
    return " ".join(" ".join(element.itertext()).split())


def cells(row) -> list[str]:
    return [text(td) for td in row.xpath("td")]


def errors_beside(doc, field_id: str) -> list[str]:
    return [text(li) for li in doc.xpath(f'//*[@id="field-{field_id}"]//ul[@class="errorlist"]/li')]


def form_data(**overrides) -> dict:
    data = {
        "title": "Workshop",
        "description": "",
        "starts_at": "2030-06-01T11:00",
        "ends_at": "2030-06-01T12:30",
        "room": "Room B",
        "capacity": "30",
    }
    data.update(overrides)
    return data


# --- The list -------------------------------------------------------------------------------------


def test_session_list_groups_sessions_by_day_in_the_event_time_zone(org, owner_client, event):
    add_session(event, title="Late night hack", hours=15.5)  # 22:30 UTC on the 1st = 00:30 on the 2nd in Berlin
    add_session(event, title="Opening", hours=0)

    doc = html(owner_client.get(url("session-list", event)))

    days = [
        (text(section.xpath(".//h2")[0]), [cells(r)[:2] for r in section.xpath(".//tbody/tr")])
        for section in doc.xpath('//div[@id="session-days"]/section')
    ]
    assert days == [
        ("Saturday 1 June 2030", [["09:00–10:00", "Opening"]]),
        ("Sunday 2 June 2030", [["00:30–01:30", "Late night hack"]]),
    ]


def test_session_list_orders_a_day_by_start_time_then_room(owner_client, event):
    add_session(event, title="Afternoon", hours=5)
    add_session(event, title="Morning, room B", hours=1, room="Room B")
    add_session(event, title="Morning, room A", hours=1, room="Room A")

    doc = html(owner_client.get(url("session-list", event)))

    assert [cells(row)[1] for row in doc.xpath("//tbody/tr")] == ["Morning, room A", "Morning, room B", "Afternoon"]


def test_session_list_row_shows_room_speakers_capacity_and_seats_taken(org, owner_client, event, speaker):
    session = add_session(event, title="Designing APIs", room="Room A", capacity=40, speaker_ids=[speaker.pk])
    services.registration_create(
        org=org,
        actor=None,
        ticket_type_id=event.ticket_types.first().pk,
        name="Bo",
        email="bo@example.com",
        session_ids=[session.pk],
    )

    doc = html(owner_client.get(url("session-list", event)))

    (row,) = doc.xpath(f'//tr[@id="session-{session.pk}"]')
    assert cells(row)[:5] == ["10:00–11:00", "Designing APIs", "Room A", "Ada Lovelace", "1 / 40"]


def test_session_list_strikes_a_cancelled_session_through_with_a_badge(org, owner_client, event):
    session = add_session(event, title="Dropped talk")
    services.session_cancel(org=org, actor=None, session_id=session.pk)

    doc = html(owner_client.get(url("session-list", event)))

    (row,) = doc.xpath(f'//tr[@id="session-{session.pk}"]')
    assert row.xpath(".//s/text()") == ["Dropped talk"]
    assert row.xpath('.//span[contains(@class, "badge-cancelled")]/text()') == ["Cancelled"]
    assert row.xpath(".//a[text()='Edit']") == []


def test_session_list_shows_an_empty_state(owner_client, event):
    doc = html(owner_client.get(url("session-list", event)))

    assert text(doc.xpath('//div[@id="session-days"]//div[contains(@class, "empty")]')[0]).startswith("No sessions yet.")


def test_session_list_shows_no_controls_to_a_viewer(org, member, event):
    add_session(event)
    client = logged_in_client(member(Role.VIEWER))

    doc = html(client.get(url("session-list", event)))

    assert len(doc.xpath("//tbody/tr")) == 1
    assert doc.xpath('//form[@id="new-session"] | //form[@id="new-speaker"] | //a[text()="Edit"] | //*[@hx-post]') == []


def test_session_list_shows_the_controls_to_an_organizer(organizer_client, event):
    add_session(event)

    doc = html(organizer_client.get(url("session-list", event)))

    assert len(doc.xpath('//form[@id="new-session"]')) == 1
    assert len(doc.xpath('//form[@id="new-speaker"]')) == 1
    assert len(doc.xpath('//tbody/tr//a[text()="Edit"]')) == 1


def test_session_list_query_count_does_not_grow_with_sessions(org, owner_client, event, speaker):
    def measure() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(url("session-list", event)).status_code == 200
        return len(ctx.captured_queries)

    add_session(event, title="First", speaker_ids=[speaker.pk], capacity=10)
    one = measure()
    add_session(event, title="Second", hours=2, speaker_ids=[speaker.pk])
    add_session(event, title="Next day", hours=24, speaker_ids=[speaker.pk], capacity=5)
    three = measure()

    assert one == three


# --- Add ------------------------------------------------------------------------------------------


def test_session_create_via_htmx_saves_it_and_shows_the_new_row(org, owner_client, event, speaker):
    response = owner_client.post(url("session-create", event), form_data(speakers=[speaker.pk]), **HX)

    session = Session.objects.get(event=event)
    assert (session.title, session.room, session.capacity) == ("Workshop", "Room B", 30)
    assert session.starts_at == datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
    assert list(session.speakers.all()) == [speaker]
    doc = fragment(response)
    (days,) = doc.xpath('//div[@id="session-days"]')
    assert days.get("hx-swap-oob") == "true"
    assert cells(days.xpath(f'.//tr[@id="session-{session.pk}"]')[0])[:5] == [
        "11:00–12:30",
        "Workshop",
        "Room B",
        "Ada Lovelace",
        "0 / 30",
    ]
    assert text(doc.xpath('//form[@id="new-session"]//div[@role="status"]')[0]) == "Added “Workshop”."
    assert doc.xpath('//form[@id="new-session"]//input[@name="title"]/@value') == []


def test_session_create_without_htmx_redirects_to_the_list(org, owner_client, event):
    response = owner_client.post(url("session-create", event), form_data())

    assert response.status_code == 302
    assert response.url == url("session-list", event)
    assert Session.objects.filter(event=event).count() == 1


def test_session_create_get_without_htmx_is_a_full_page_form(owner_client, event):
    doc = html(owner_client.get(url("session-create", event)))

    assert doc.xpath("//h2/text()") == ["Add a session"]
    assert doc.xpath('//input[@name="starts_at"]/@value') == ["2030-06-01T09:00"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"starts_at": "2030-06-01T07:00"}, "starts_at", "The session must take place during the event."),
        ({"ends_at": "2030-06-01T10:00"}, "ends_at", "The session must end after it starts."),
        ({"title": " "}, "title", "This field is required."),
    ],
)
def test_session_create_error_appears_beside_its_field(org, owner_client, event, overrides, field, message):
    response = owner_client.post(url("session-create", event), form_data(**overrides), **HX)

    doc = fragment(response)
    assert errors_beside(doc, f"new-session_{field}") == [message]
    assert doc.xpath('//form[@id="new-session"]//input[@name="room"]/@value') == ["Room B"]
    assert Session.objects.filter(event=event).count() == 0


def test_session_create_error_without_htmx_renders_the_form_page(owner_client, event):
    response = owner_client.post(
        url("session-create", event), form_data(starts_at="2030-06-05T10:00", ends_at="2030-06-05T11:00")
    )

    assert errors_beside(html(response), "new-session_starts_at") == ["The session must take place during the event."]


# --- Edit, row, cancel ----------------------------------------------------------------------------


def test_session_edit_get_turns_the_row_into_a_form(owner_client, event, speaker):
    session = add_session(event, title="Keynote", speaker_ids=[speaker.pk])

    doc = fragment(owner_client.get(url("session-edit", event, session), **HX))

    (row,) = doc.xpath("//tr")
    assert row.get("id") == f"session-{session.pk}"
    assert row.xpath(".//input[@name='title']/@value") == ["Keynote"]
    assert row.xpath(".//input[@name='starts_at']/@value") == ["2030-06-01T10:00"]
    assert row.xpath(".//input[@name='speakers'][@checked]/@value") == [str(speaker.pk)]
    assert row.xpath(".//a[text()='Cancel']/@hx-get") == [url("session-row", event, session)]


def test_session_edit_post_swaps_back_to_the_updated_row(owner_client, event):
    session = add_session(event, title="Keynote", hours=1)

    response = owner_client.post(
        url("session-edit", event, session),
        form_data(title="Keynote, revised", starts_at="2030-06-01T10:00", ends_at="2030-06-01T11:15", room="Room C"),
        **HX,
    )

    (row,) = fragment(response).xpath("//tr")
    assert row.xpath(".//input[@name='title']") == []
    assert cells(row)[:3] == ["10:00–11:15", "Keynote, revised", "Room C"]
    session.refresh_from_db()
    assert (session.title, session.room, session.ends_at) == (
        "Keynote, revised",
        "Room C",
        datetime(2030, 6, 1, 9, 15, tzinfo=UTC),
    )


def test_session_edit_moving_the_start_redraws_the_days(owner_client, event):
    session = add_session(event, title="Keynote", hours=1)

    response = owner_client.post(
        url("session-edit", event, session),
        form_data(title="Keynote", starts_at="2030-06-02T09:00", ends_at="2030-06-02T10:00"),
        **HX,
    )

    assert response.headers["HX-Retarget"] == "#session-days"
    assert response.headers["HX-Reswap"] == "outerHTML"
    doc = fragment(response)
    assert [text(h) for h in doc.xpath("//section/h2")] == ["Sunday 2 June 2030"]


def test_session_edit_error_stays_in_the_form_beside_the_field(owner_client, event):
    session = add_session(event, title="Keynote")

    response = owner_client.post(
        url("session-edit", event, session), form_data(starts_at="2030-06-03T09:00", ends_at="2030-06-03T10:00"), **HX
    )

    doc = fragment(response)
    assert errors_beside(doc, f"session-{session.pk}_starts_at") == ["The session must take place during the event."]
    session.refresh_from_db()
    assert session.title == "Keynote"


def test_session_edit_without_htmx_is_a_full_page_and_redirects_after_saving(owner_client, event):
    session = add_session(event, title="Keynote")

    page = html(owner_client.get(url("session-edit", event, session)))
    response = owner_client.post(url("session-edit", event, session), form_data(title="Renamed"))

    assert page.xpath("//h2/text()") == ["Edit “Keynote”"]
    assert response.status_code == 302
    assert response.url == f"{url('session-list', event)}#session-{session.pk}"
    session.refresh_from_db()
    assert session.title == "Renamed"


def test_session_row_returns_the_plain_row(owner_client, event):
    session = add_session(event, title="Keynote")

    (row,) = fragment(owner_client.get(url("session-row", event, session), **HX)).xpath("//tr")

    assert cells(row)[:3] == ["10:00–11:00", "Keynote", "Main hall"]


def test_session_row_without_htmx_goes_back_to_the_list(owner_client, event):
    session = add_session(event)

    response = owner_client.get(url("session-row", event, session))

    assert response.status_code == 302
    assert response.url == f"{url('session-list', event)}#session-{session.pk}"


def test_session_cancel_asks_for_confirmation_first(owner_client, event):
    session = add_session(event, title="Keynote")

    doc = html(owner_client.get(url("session-list", event)))

    (form,) = doc.xpath(f'//tr[@id="session-{session.pk}"]//form')
    assert form.get("hx-post") == url("session-cancel", event, session)
    assert form.get("hx-confirm").startswith("Cancel the session “Keynote”?")


def test_session_cancel_via_htmx_returns_the_struck_row(owner_client, event):
    session = add_session(event, title="Keynote")

    response = owner_client.post(url("session-cancel", event, session), **HX)

    (row,) = fragment(response).xpath("//tr")
    assert row.xpath(".//s/text()") == ["Keynote"]
    session.refresh_from_db()
    assert session.cancelled is True


def test_session_cancel_without_htmx_redirects_to_the_list(owner_client, event):
    session = add_session(event)

    response = owner_client.post(url("session-cancel", event, session))

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.cancelled is True


def test_session_cancel_twice_says_it_is_already_cancelled(org, owner_client, event):
    session = add_session(event, title="Keynote")
    services.session_cancel(org=org, actor=None, session_id=session.pk)

    response = owner_client.post(url("session-cancel", event, session), **HX)

    (row,) = fragment(response).xpath("//tr")
    assert row.xpath('.//div[@role="alert"]/text()') == ["This session is already cancelled."]


def test_session_cancel_answers_only_to_post(owner_client, event):
    session = add_session(event)

    response = owner_client.get(url("session-cancel", event, session))

    assert response.status_code == 405
    session.refresh_from_db()
    assert session.cancelled is False


# --- Speakers -------------------------------------------------------------------------------------


def test_speaker_create_via_htmx_makes_the_speaker_selectable(org, owner_client, event):
    response = owner_client.post(
        reverse("events:speaker-create", args=[org.slug]),
        {"speaker-name": "Grace Hopper", "speaker-company": "US Navy", "speaker-email": "", "speaker-bio": ""},
        **HX,
    )

    speaker = Speaker.objects.for_org(org).get()
    assert (speaker.name, speaker.company) == ("Grace Hopper", "US Navy")
    doc = fragment(response)
    (new,) = doc.xpath('//div[@hx-swap-oob="beforeend:.speaker-choices-new"]//input')
    assert (new.get("name"), new.get("value"), new.get("checked")) == ("speakers", str(speaker.pk), "checked")
    (edit,) = doc.xpath('//div[@hx-swap-oob="beforeend:.speaker-choices-edit"]//input')
    assert (edit.get("value"), edit.get("checked")) == (str(speaker.pk), None)
    assert doc.xpath('//form[@id="new-speaker"]//input[@name="speaker-name"]/@value') == []


def test_a_new_speaker_can_be_chosen_for_a_session(org, owner_client, event):
    owner_client.post(reverse("events:speaker-create", args=[org.slug]), {"speaker-name": "Grace Hopper"}, **HX)
    speaker = Speaker.objects.for_org(org).get()

    owner_client.post(url("session-create", event), form_data(speakers=[speaker.pk]), **HX)

    assert list(Session.objects.get(event=event).speakers.values_list("name", flat=True)) == ["Grace Hopper"]


def test_speaker_create_without_a_name_says_so_beside_the_name(org, owner_client):
    response = owner_client.post(reverse("events:speaker-create", args=[org.slug]), {"speaker-name": ""}, **HX)

    assert errors_beside(fragment(response), "speaker-name") == ["This field is required."]
    assert Speaker.objects.for_org(org).count() == 0


def test_speaker_create_without_htmx_goes_back_to_the_page_it_came_from(org, owner_client, event):
    back = url("session-list", event)

    response = owner_client.post(reverse("events:speaker-create", args=[org.slug]), {"speaker-name": "Alan Kay", "next": back})

    assert response.status_code == 302
    assert response.url == back


def test_speaker_create_ignores_a_next_address_on_another_site(org, owner_client):
    response = owner_client.post(
        reverse("events:speaker-create", args=[org.slug]), {"speaker-name": "Alan Kay", "next": "https://evil.example/"}
    )

    assert response.url == reverse("events:event-list", args=[org.slug])


# --- Permissions and tenancy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("post", "session-create"),
        ("get", "session-create"),
        ("get", "session-edit"),
        ("post", "session-edit"),
        ("post", "session-cancel"),
        ("post", "speaker-create"),
    ],
)
def test_session_writes_are_forbidden_to_a_viewer(org, member, event, method, name):
    session = add_session(event, title="Untouched")
    client = logged_in_client(member(Role.VIEWER))
    target = (
        reverse("events:speaker-create", args=[org.slug])
        if name == "speaker-create"
        else url(name, event, None if name == "session-create" else session)
    )

    response = getattr(client, method)(target, form_data(title="Hacked", **{"speaker-name": "Mallory"}))

    assert response.status_code == 403
    session.refresh_from_db()
    assert (session.title, session.cancelled) == ("Untouched", False)
    assert Speaker.objects.for_org(org).count() == 0


def test_session_list_is_open_to_a_viewer(member, event):
    client = logged_in_client(member(Role.VIEWER))

    assert client.get(url("session-list", event)).status_code == 200


@pytest.mark.parametrize("name", ["session-list", "session-create"])
def test_another_organizations_event_is_not_found(org, owner_client, other_org, name):
    foreign = other_org.events.get()

    response = owner_client.get(reverse(f"events:{name}", args=[org.slug, foreign.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize(("method", "name"), [("get", "session-row"), ("get", "session-edit"), ("post", "session-cancel")])
def test_another_organizations_session_is_not_found(org, owner_client, other_org, event, method, name):
    foreign_event = other_org.events.get()
    foreign = add_session(foreign_event, title="Secret session")

    response = getattr(owner_client, method)(reverse(f"events:{name}", args=[org.slug, event.pk, foreign.pk]), **HX)

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.cancelled is False


def test_a_session_of_another_event_of_the_same_organization_is_not_found(org, owner_client, event):
    other_event = make_event(org, title="Other", starts_at=START, ends_at=START + timedelta(hours=8))
    session = add_session(other_event)

    response = owner_client.get(url("session-edit", event, session), **HX)

    assert response.status_code == 404
