from django.urls import path

from portal import views_usage

urlpatterns = [
    path("", views_usage.usage_page, name="dev-usage"),
]
