"""URL configuration: the API under /api/v1/, its schema, the admin, the operator page, /metrics."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from app.accounts.views import admin_login
from app.observability.views import healthz_view, metrics_view

urlpatterns = [
    # The API first: URLs resolve in order, and its requests are the ones that count.
    path("api/v1/", include("app.recommendations.api.urls")),
    path("healthz", healthz_view, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # Before the admin's own: its login behind the login guard (app/accounts/login_guard.py).
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("ops/", include("app.ops.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

handler400 = "app.api.errors.bad_request"
handler403 = "app.api.errors.permission_denied"
handler404 = "app.api.errors.not_found"
handler500 = "app.api.errors.server_error"
