"""manage.py create_api_key --org SLUG --name NAME --scopes a,b,c [--test]: prints the key once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import API_SCOPES, ApiTier, Organization
from accounts.services import api_key_create
from portal.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for an organization and print it (it is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument("--scopes", required=True, help=f"comma-separated, from: {','.join(API_SCOPES)}")
        parser.add_argument("--test", action="store_true", help="a cnv_test_ key (sandbox organizations take only these)")
        parser.add_argument("--tier", default=ApiTier.USER, choices=ApiTier.values, help="rate-limit tier")

    def handle(self, *args, org: str, name: str, scopes: str, test: bool, tier: str, **options) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with the slug '{org}'.")
        try:
            key, secret = api_key_create(
                org=organization,
                actor=None,
                name=name,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                test=test or None,  # without --test: the kind the organization takes (a sandbox: test)
                tier=tier,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"API key '{key.name}' for {organization.slug} with scopes {', '.join(key.scopes)}.")
        self.stderr.write("Store it now: it is shown only once.")
        self.stdout.write(secret)
