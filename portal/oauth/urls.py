from django.urls import path
from oauth2_provider import views as toolkit

from portal import views_oauth as views

app_name = "oauth"

urlpatterns = [
    path("oauth/authorize/", views.AuthorizeView.as_view(), name="authorize"),
    path("oauth/token/", toolkit.TokenView.as_view(), name="token"),
    path("oauth/revoke/", toolkit.RevokeTokenView.as_view(), name="revoke"),
    path("oauth/introspect/", views.introspect, name="introspect"),
    path("oauth/jwks.json", views.jwks_view, name="jwks"),
    path(".well-known/openid-configuration", views.openid_configuration, name="openid-configuration"),
    path(".well-known/oauth-authorization-server", views.oauth_server_metadata, name="server-metadata"),
    path("account/authorized-apps/", views.authorized_apps, name="authorized-apps"),
    path("account/authorized-apps/<int:consent_id>/revoke/", views.authorized_app_revoke, name="authorized-app-revoke"),
    path("o/<slug:org_slug>/developers/apps/<int:app_id>/oauth/", views.oauth_client_list, name="client-list"),
    path(
        "o/<slug:org_slug>/developers/apps/<int:app_id>/oauth/<int:client_id>/delete/",
        views.oauth_client_delete,
        name="client-delete",
    ),
]
