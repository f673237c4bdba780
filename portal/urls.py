from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from events.views import calendars as calendar_views
from portal import views
from portal.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("api/v1/", api.urls),
    path("accounts/", include("accounts.sso.urls")),  # SAML sign-in's last step, ahead of allauth's own
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("portal.oauth.urls")),  # /oauth/…, /.well-known/…, authorized apps, an app's OAuth clients
    path("", include("portal.dev_urls")),  # the developer portal: /o/<slug>/developers/…, public /developers/…
    path("o/<slug:org_slug>/", include("events.urls")),
    path("o/<slug:org_slug>/webhooks/", include("integrations.urls")),
    path("o/<slug:org_slug>/developers/usage/", include("portal.usage_urls")),
    path("e/", include("events.public_urls")),
    path("calendar/<slug:org_slug>/<str:token>.ics", calendar_views.organization_feed, name="calendar-feed"),
    path("admin/", admin.site.urls),
]
if settings.CONVENE_BENCH:  # bench/api.py compares the API with the cheapest JSON view Django can serve
    urlpatterns.append(path("bench/json", views.bench_json))
