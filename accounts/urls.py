from django.urls import path

from accounts import views, views_api_keys
from accounts.sso import views as sso_views

app_name = "accounts"

urlpatterns = [
    path("orgs/new/", views.organization_create, name="organization-create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("o/<slug:org_slug>/team/", views.team, name="team"),
    path("o/<slug:org_slug>/team/invite/", views.member_invite, name="member-invite"),
    path("o/<slug:org_slug>/team/<int:membership_id>/role/", views.membership_role, name="membership-role"),
    path("o/<slug:org_slug>/team/<int:membership_id>/remove/", views.membership_remove, name="membership-remove"),
    path("o/<slug:org_slug>/team/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("o/<slug:org_slug>/audit/", views.audit_log, name="audit-log"),
    path("o/<slug:org_slug>/api-keys/", views_api_keys.api_key_list, name="api-key-list"),
    path("o/<slug:org_slug>/api-keys/<int:api_key_id>/revoke/", views_api_keys.api_key_revoke, name="api-key-revoke"),
    path("o/<slug:org_slug>/sso/", sso_views.sso_settings, name="sso-settings"),
    path("o/<slug:org_slug>/sso/test/", sso_views.sso_test_start, name="sso-test-start"),
    path("o/<slug:org_slug>/sso/test/result/", sso_views.sso_test_result, name="sso-test-result"),
    path("login/sso/", sso_views.sso_login, name="sso-login"),
]
