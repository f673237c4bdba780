"""Mounted under ``accounts/`` ahead of allauth's URLs: these views replace allauth's (see acs.py, slo.py)."""

from django.urls import path

from accounts.sso import acs, slo

urlpatterns = [
    path("saml/<str:organization_slug>/acs/finish/", acs.finish_acs),
    path("saml/<str:organization_slug>/sls/", slo.sls),
    path("logout/", slo.logout),
]
