from django.contrib import admin

from .models import (
    BidSuggestion,
    CleanerRecommendation,
    CleanerScore,
    JobRecommendation,
    RecommendationFeedback,
    RecommendationRequest,
)


@admin.register(CleanerScore)
class CleanerScoreAdmin(admin.ModelAdmin):
    list_display = ("cleaner", "quality", "reliability", "review_count", "avg_rating", "updated_at")
    raw_id_fields = ("cleaner",)


@admin.register(RecommendationRequest)
class RecommendationRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "requested_by", "mode", "model_version", "created_at", "finished_at")
    list_filter = ("kind", "status", "mode")
    raw_id_fields = ("requested_by", "job", "cleaner")
    readonly_fields = ("created_at",)


@admin.register(CleanerRecommendation)
class CleanerRecommendationAdmin(admin.ModelAdmin):
    list_display = ("job", "cleaner", "rank", "score", "mode", "model_version", "variant", "created_at")
    list_filter = ("mode", "model_version", "variant")
    raw_id_fields = ("request", "job", "cleaner")


@admin.register(JobRecommendation)
class JobRecommendationAdmin(admin.ModelAdmin):
    list_display = ("cleaner", "job", "rank", "score", "mode", "was_viewed", "was_bid_placed", "was_bid_accepted")
    list_filter = ("mode", "model_version", "variant", "was_viewed", "was_bid_placed", "was_bid_accepted")
    raw_id_fields = ("request", "job", "cleaner")


@admin.register(BidSuggestion)
class BidSuggestionAdmin(admin.ModelAdmin):
    list_display = ("job", "cleaner", "suggested_amount", "low", "high", "confidence", "created_at")
    raw_id_fields = ("request", "job", "cleaner")


@admin.register(RecommendationFeedback)
class RecommendationFeedbackAdmin(admin.ModelAdmin):
    list_display = ("event", "user", "job", "cleaner", "occurred_at", "applied_at")
    list_filter = ("event",)
    raw_id_fields = ("user", "job", "cleaner", "job_recommendation", "cleaner_recommendation")
