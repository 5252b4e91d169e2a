from django.urls import path

from app.api import converters  # noqa: F401  (registers <external_id:...>)
from app.marketplace.ingest import ENTITY_TYPES
from app.marketplace.ingest.files import PLURAL

from .batch import BatchView
from .jobs import JobListView
from .views import entity_view

urlpatterns = [
    path("jobs/", JobListView.as_view(), name="job-list"),
    path("marketplace/batch/", BatchView.as_view(), name="marketplace-batch"),
] + [
    path(
        f"marketplace/{PLURAL[t]}/<external_id:external_id>/",
        entity_view(t).as_view(),
        name=f"marketplace-{PLURAL[t]}-detail",
    )
    for t in ENTITY_TYPES
]
