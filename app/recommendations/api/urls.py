from django.urls import include, path

from app.api import converters  # noqa: F401  (registers <external_id:...>)

from . import feedback, models_api, stats_api, views
from .fast import Kind, cached_first

urlpatterns = [
    # First, as resolved in order: the two questions asked again and again (a repeated one is
    # answered before DRF: fast.py) and the long-poll for their answers.
    path(
        "jobs/<int:job_id>/recommendations/",
        cached_first(views.JobRecommendationsView.as_view(), kind=Kind.CLEANERS_FOR_JOB),
        name="job-recommendations",
    ),
    path(
        "cleaners/<int:cleaner_id>/recommendations/",
        cached_first(views.CleanerRecommendationsView.as_view(), kind=Kind.JOBS_FOR_CLEANER),
        name="cleaner-recommendations",
    ),
    path(
        "recommendation-requests/<uuid:request_id>/",
        views.RecommendationRequestView.as_view(),
        name="recommendation-request-detail",
    ),
    # The same questions with the subject named by the marketplace's own id (views.py).
    path(
        "jobs/by-external-id/<external_id:external_id>/recommendations/",
        views.JobByExternalIdRecommendationsView.as_view(),
        name="job-by-external-id-recommendations",
    ),
    path(
        "cleaners/by-external-id/<external_id:external_id>/recommendations/",
        views.CleanerByExternalIdRecommendationsView.as_view(),
        name="cleaner-by-external-id-recommendations",
    ),
    path(
        "jobs/by-external-id/<external_id:external_id>/bid-suggestions/",
        views.JobByExternalIdBidSuggestionsView.as_view(),
        name="job-by-external-id-bid-suggestions",
    ),
    path("", include("app.webhooks.urls")),
    path("", include("app.integrations.urls")),
    path("", include("app.marketplace.api.urls")),
    path("auth/token/", views.ObtainTokenView.as_view(), name="auth-token"),
    path("jobs/<int:job_id>/bid-suggestions/", views.BidSuggestionsView.as_view(), name="bid-suggestions"),
    path("feedback/", feedback.FeedbackView.as_view(), name="feedback"),
    path("models/", models_api.ModelListView.as_view(), name="model-list"),
    path("models/retrain/", models_api.RetrainView.as_view(), name="model-retrain"),
    path("models/<str:version>/activate/", models_api.ActivateView.as_view(), name="model-activate"),
    path("recommendations/stats/", stats_api.RecommendationStatsView.as_view(), name="recommendation-stats"),
    path("experiments/results/", stats_api.ExperimentResultsView.as_view(), name="experiment-results"),
]
