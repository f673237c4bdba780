from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.endpoint_list, name="endpoint-list"),
    path("new/", views.endpoint_create, name="endpoint-create"),
    path("deliveries/", views.delivery_list, name="delivery-list"),
    path("deliveries/<int:delivery_id>/", views.delivery_detail, name="delivery-detail"),
    path("deliveries/<int:delivery_id>/replay/", views.delivery_replay, name="delivery-replay"),
    path("<int:endpoint_id>/", views.endpoint_detail, name="endpoint-detail"),
    path("<int:endpoint_id>/edit/", views.endpoint_edit, name="endpoint-edit"),
    path("<int:endpoint_id>/deliveries/", views.endpoint_deliveries, name="endpoint-deliveries"),
    path("<int:endpoint_id>/enable/", views.endpoint_enable, name="endpoint-enable"),
    path("<int:endpoint_id>/disable/", views.endpoint_disable, name="endpoint-disable"),
    path("<int:endpoint_id>/rotate-secret/", views.endpoint_rotate, name="endpoint-rotate"),
    path("<int:endpoint_id>/test/", views.endpoint_send_test, name="endpoint-test"),
    path("<int:endpoint_id>/redeliver-failed/", views.endpoint_redeliver_failed, name="endpoint-redeliver-failed"),
    path("<int:endpoint_id>/delete/", views.endpoint_delete, name="endpoint-delete"),
]
