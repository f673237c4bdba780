"""manage.py create_oauth_app --org SLUG --name NAME --grant client-credentials --scopes a,b: prints the client
id and secret (the secret only this once)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import API_SCOPES, ApiTier, App, Organization
from accounts.services import app_create
from portal.errors import DomainError
from portal.oauth.services import GRANT_TYPES, oauth_client_create


class Command(BaseCommand):
    help = "Create an OAuth 2.0 client (and its app when needed) for an organization; print its id and secret."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--name", required=True, help="the client's name (shown on the consent screen)")
        parser.add_argument("--app", default="", help="the app it belongs to (made when missing; default: --name)")
        parser.add_argument("--grant", required=True, choices=sorted(GRANT_TYPES), help="the grant type")
        parser.add_argument("--scopes", required=True, help=f"comma-separated, from: {','.join(API_SCOPES)}")
        parser.add_argument(
            "--redirect-uri", action="append", default=[], dest="redirect_uris", help="authorization-code: repeat for several"
        )
        parser.add_argument("--tier", default=ApiTier.PARTNER, choices=ApiTier.values, help="rate-limit tier")

    def handle(
        self, *args, org: str, name: str, app: str, grant: str, scopes: str, redirect_uris: list[str], tier: str, **options
    ) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with the slug '{org}'.")
        app_name = (app or name).strip()
        try:
            app_obj = App.objects.for_org(organization).filter(name__iexact=app_name).first() or app_create(
                org=organization, actor=None, name=app_name
            )
            client, secret = oauth_client_create(
                org=organization,
                actor=None,
                app_id=app_obj.pk,
                name=name,
                grant_type=grant,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                redirect_uris=redirect_uris,
                tier=tier,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"OAuth client '{client}' ({grant}) of app '{app_obj.name}' in {organization.slug}, "
            f"scopes {', '.join(client.scopes)}."
        )
        self.stderr.write("Store the secret now: it is shown only once.")
        self.stdout.write(f"client_id={client.application.client_id}")
        self.stdout.write(f"client_secret={secret}")
