"""Reads for the developer pages: one organization's rows, a fixed number of queries whatever the count."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from integrations import selectors, services
from integrations.services import outbox_publish
from portal.errors import NotFound

pytestmark = pytest.mark.django_db


def deliveries_for(org, count: int):
    endpoint = services.webhook_endpoint_create(org=org, actor=None, url="https://hooks.example.com/convene")
    with transaction.atomic():
        events = [outbox_publish(org=org, event_type="event.updated", data={"n": n}) for n in range(count)]
    for event in events:
        services.outbox_fan_out(outbox_event_id=event.pk)
    return endpoint


def read_delivery_rows(org) -> list[tuple]:
    return [(d.endpoint.url, d.outbox_event.public_id, d.status) for d in selectors.webhook_delivery_list(org=org)]


@pytest.mark.parametrize("count", [1, 3])
def test_delivery_list_query_count_does_not_grow_with_rows(org, count):
    deliveries_for(org, count)

    with CaptureQueriesContext(connection) as queries:
        rows = read_delivery_rows(org)

    assert (len(rows), len(queries)) == (count, 1)


def test_delivery_list_shows_only_this_org(org, other_org):
    deliveries_for(org, 2)
    deliveries_for(other_org, 3)

    assert len(selectors.webhook_delivery_list(org=org)) == 2


def test_delivery_get_of_other_org_answers_not_found(org, other_org):
    deliveries_for(other_org, 1)
    [theirs] = selectors.webhook_delivery_list(org=other_org)

    with pytest.raises(NotFound):
        selectors.webhook_delivery_get(org=org, delivery_id=theirs.pk)
