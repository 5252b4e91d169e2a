from django.urls import path

from app.webhooks import views

urlpatterns = [
    path("webhook-endpoints/", views.WebhookEndpointListView.as_view(), name="webhook-endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>/",
        views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path("webhook-callback-secret/", views.CallbackSecretView.as_view(), name="webhook-callback-secret"),
]
