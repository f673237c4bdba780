"""The toolkit's request validator, with Convene's rules: only clients made through an app's OAuth page take
part, and a user's code or refresh token is honoured only while their consent stands."""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator

from portal.models import OAuthConsent
from portal.oauth.tokens import client_of


class ConveneOAuth2Validator(OAuth2Validator):
    def validate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        return super().validate_client_id(client_id, request, *args, **kwargs) and client_of(request.client) is not None

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        if client_of(client) is None:
            return False
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def _consent_stands(self, request) -> bool:
        client = client_of(request.client)
        return client is not None and OAuthConsent.objects.filter(user=request.user, client=client).exists()

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        return super().validate_code(client_id, code, client, request, *args, **kwargs) and self._consent_stands(request)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        return valid and (request.user is None or self._consent_stands(request))
