from django.urls import path

from app.integrations import views

urlpatterns = [
    path("integration-keys/", views.IntegrationKeyListView.as_view(), name="integration-keys"),
    path("integration-keys/<int:key_id>/", views.IntegrationKeyDetailView.as_view(), name="integration-key-detail"),
    path(
        "integration-keys/<int:key_id>/revoke/",
        views.IntegrationKeyRevokeView.as_view(),
        name="integration-key-revoke",
    ),
]
