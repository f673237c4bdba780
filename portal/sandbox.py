"""A developer's sandbox: an organization of their own, filled with sample data, that only test keys reach."""

from __future__ import annotations

from accounts import services as account_services
from accounts.models import Organization, User
from events.sample_data import sample_data_create

#: a sandbox is smaller than the acme demo: enough to page through, quick to make at sign-up
SANDBOX_CONFERENCE_ATTENDEES = 8
SANDBOX_MEETUP_ATTENDEES = 6
SANDBOX_PENDING_PAYMENTS = 3


def developer_sandbox_create(*, user: User) -> Organization:
    """Make ``user`` the owner of a new sandbox with sample events, sessions, ticket types, registrations (some
    waiting for payment) and check-ins. Runs several transactions: call it outside any."""
    org = account_services.sandbox_create(actor=user)
    sample_data_create(
        org=org,
        actor=user,
        conference_attendees=SANDBOX_CONFERENCE_ATTENDEES,
        meetup_attendees=SANDBOX_MEETUP_ATTENDEES,
        pending=SANDBOX_PENDING_PAYMENTS,
    )
    return org
