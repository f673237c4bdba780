"""The developer portal: /o/<org_slug>/developers/… (an organization's) and /developers/… (public docs, sign-up)."""

from django.urls import path

from portal import views_dev

urlpatterns = [
    path("o/<slug:org_slug>/developers/", views_dev.dev_home, name="dev-home"),
    path("o/<slug:org_slug>/developers/first-key/", views_dev.first_key_create, name="dev-first-key"),
    path("o/<slug:org_slug>/developers/test-events/", views_dev.test_events_send, name="dev-test-events"),
    path("o/<slug:org_slug>/developers/apps/", views_dev.app_list, name="dev-apps"),
    path("o/<slug:org_slug>/developers/apps/<int:app_id>/", views_dev.app_detail, name="dev-app-detail"),
    path("o/<slug:org_slug>/developers/apps/keys/<int:api_key_id>/roll/", views_dev.key_roll, name="dev-key-roll"),
    path("o/<slug:org_slug>/developers/apps/keys/<int:api_key_id>/revoke/", views_dev.key_revoke, name="dev-key-revoke"),
    path("developers/signup/", views_dev.dev_signup, name="dev-signup"),
    path("developers/sandbox/", views_dev.sandbox_create, name="dev-sandbox-create"),
    path("developers/quickstart/", views_dev.quickstart, name="dev-quickstart"),
    path("developers/errors/", views_dev.error_reference, name="dev-errors"),
    path("developers/changelog/", views_dev.changelog, name="dev-changelog"),
    path("developers/openapi.json", views_dev.openapi_download, name="dev-openapi"),
]
