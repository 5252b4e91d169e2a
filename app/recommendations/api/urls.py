from django.urls import include, path

from . import feedback, views

urlpatterns = [
    path("", include("app.webhooks.urls")),
    path("auth/token/", views.ObtainTokenView.as_view(), name="auth-token"),
    path("jobs/<int:job_id>/recommendations/", views.JobRecommendationsView.as_view(), name="job-recommendations"),
    path(
        "cleaners/<int:cleaner_id>/recommendations/",
        views.CleanerRecommendationsView.as_view(),
        name="cleaner-recommendations",
    ),
    path("jobs/<int:job_id>/bid-suggestions/", views.BidSuggestionsView.as_view(), name="bid-suggestions"),
    path(
        "recommendation-requests/<uuid:request_id>/",
        views.RecommendationRequestView.as_view(),
        name="recommendation-request-detail",
    ),
    path("feedback/", feedback.FeedbackView.as_view(), name="feedback"),
]
