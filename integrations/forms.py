"""Forms of the webhook pages. The services validate URLs and event types; their errors land beside the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.utils import timezone

from integrations.models import EVENT_TYPES, WebhookEndpoint

#: the event types grouped by the resource they concern, in the documented order
EVENT_TYPE_GROUPS: list[tuple[str, list[str]]] = []
for _type in EVENT_TYPES:
    _resource = _type.split(".", 1)[0]
    if not EVENT_TYPE_GROUPS or EVENT_TYPE_GROUPS[-1][0] != _resource:
        EVENT_TYPE_GROUPS.append((_resource, []))
    EVENT_TYPE_GROUPS[-1][1].append(_type)

#: how the groups are titled on the page
RESOURCE_LABELS = {
    "event": "Events",
    "registration": "Registrations",
    "payment": "Payments",
    "checkin": "Check-ins",
    "session": "Sessions",
}


class EndpointForm(forms.Form):
    url = forms.CharField(
        max_length=500,
        label="Endpoint URL",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/convene", "autocomplete": "off"}),
        help_text="We POST each event here as JSON, signed with the endpoint's secret (Standard Webhooks).",
    )
    description = forms.CharField(
        max_length=200, required=False, label="Description", help_text="What receives these events, e.g. “CRM sync”."
    )
    all_events = forms.BooleanField(required=False, label="All events, including types added later")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES], required=False, widget=forms.CheckboxSelectMultiple, label="Event types"
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled: send events to this endpoint")

    @classmethod
    def for_endpoint(cls, endpoint: WebhookEndpoint, data=None) -> EndpointForm:
        return cls(
            data,
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "all_events": not endpoint.event_types,
                "event_types": list(endpoint.event_types),
                "enabled": endpoint.enabled,
            },
        )

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("all_events") and not data.get("event_types"):
            self.add_error("event_types", "Choose at least one event type, or all events.")
        return data

    def chosen_event_types(self) -> list[str]:
        """What the services expect: an empty list means all events."""
        return [] if self.cleaned_data["all_events"] else self.cleaned_data["event_types"]

    def event_type_groups(self) -> list[tuple[str, list[tuple[str, bool]]]]:
        """(group title, [(event type, checked)]) for the grouped checkboxes, from the data or the initial values."""
        if self.is_bound:
            chosen = set(self.data.getlist(self.add_prefix("event_types")))
        else:
            chosen = set(self.initial.get("event_types") or [])
        return [(RESOURCE_LABELS.get(r, r), [(t, t in chosen) for t in types]) for r, types in EVENT_TYPE_GROUPS]

    def all_events_checked(self) -> bool:
        if self.is_bound:
            return bool(self.data.get(self.add_prefix("all_events")))
        return bool(self.initial.get("all_events", True))


class SendTestForm(forms.Form):
    event_type = forms.ChoiceField(choices=[(t, t) for t in EVENT_TYPES], label="Event type")


class RedeliverFailedForm(forms.Form):
    since = forms.DateTimeField(
        label="Failed since (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    @staticmethod
    def default_since() -> datetime:
        return (timezone.now() - timedelta(days=1)).astimezone(UTC).replace(second=0, microsecond=0, tzinfo=None)

    def clean_since(self) -> datetime:
        since = self.cleaned_data["since"]
        # the form is labelled UTC: read what was typed as UTC, whatever the server's zone
        wall_time = since if timezone.is_naive(since) else timezone.make_naive(since)
        return wall_time.replace(tzinfo=UTC)
