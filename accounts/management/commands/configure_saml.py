"""``manage.py configure_saml``: the settings the SSO page edits, from the command line."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization, SsoSource
from accounts.sso import services
from accounts.sso.forms import role_map_parse
from portal.errors import DomainError


class Command(BaseCommand):
    help = "Configure an organization's SAML single sign-on: identity provider, e-mail domains and group → role mapping."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--metadata-url", help="The identity provider's metadata URL (read once, now).")
        source.add_argument("--metadata-file", help="A file with the identity provider's metadata XML.")
        parser.add_argument("--domain", action="append", default=[], help="An e-mail domain of the organization (repeatable).")
        parser.add_argument("--role-attribute", help="The SAML attribute carrying the user's groups.")
        parser.add_argument("--role-map", help="group=role pairs, comma-separated (e.g. admins=admin,staff=organizer).")
        parser.add_argument("--default-role", help="The role of users in no mapped group (default: they are refused).")
        parser.add_argument("--require-sso", action="store_true", help="Users of these domains may not log in with a password.")
        parser.add_argument(
            "--allow-idp-initiated", action="store_true", help="Accept sign-ins started at the identity provider."
        )
        parser.add_argument("--disabled", action="store_true", help="Store the settings but leave single sign-on off.")

    def handle(self, *args: object, **options: object) -> None:
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organization with the slug {options['org']!r}.")
        if options["metadata_url"]:
            idp = services.IdpInput(source=SsoSource.METADATA_URL, metadata_url=str(options["metadata_url"]))
        else:
            path = Path(str(options["metadata_file"]))
            try:
                xml = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc}") from exc
            idp = services.IdpInput(source=SsoSource.METADATA_XML, metadata_xml=xml)
        fields: dict[str, object] = {"enabled": not options["disabled"]}
        if options["role_attribute"]:
            fields["attribute_groups"] = options["role_attribute"]
        if options["role_map"]:
            try:
                fields["role_map"] = role_map_parse(str(options["role_map"]))
            except forms.ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        if options["default_role"]:
            fields["default_role"] = options["default_role"]
        if options["require_sso"]:
            fields["require_sso"] = True
        if options["allow_idp_initiated"]:
            fields["allow_idp_initiated"] = True
        try:
            config = services.sso_configuration_update(
                org=org, actor=None, idp=idp, domains=list(options["domain"]) or None, **fields
            )
        except DomainError as exc:
            where = f" ({exc.field})" if exc.field else ""
            raise CommandError(f"{exc.message}{where}") from exc
        domains = ", ".join(services.sso_domains(org)) or "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"SAML single sign-on of {org.slug} is {'on' if config.enabled else 'off'}: "
                f"IdP {config.idp_entity_id}, domains {domains}."
            )
        )
        self.stdout.write(f"SP metadata: /accounts/saml/{org.slug}/metadata/")
