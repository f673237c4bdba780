from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("api/v1/", api.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("o/<slug:org_slug>/", include("events.urls")),
    path("e/", include("events.public_urls")),
    path("admin/", admin.site.urls),
]
