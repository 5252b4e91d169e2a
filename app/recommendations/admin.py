from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from app.common.tasks import QueueUnavailable

from . import registry
from .models import (
    BidSuggestion,
    CleanerRecommendation,
    CleanerScore,
    JobRecommendation,
    ModelHealthCheck,
    ModelVersion,
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
    list_display = ("event", "user", "job", "cleaner", "occurred_at", "applied_at", "apply_failures", "dead_at")
    list_filter = ("event", ("dead_at", admin.EmptyFieldListFilter))
    actions = ["retry_set_aside"]

    @admin.action(description="Retry the selected events that were set aside")
    def retry_set_aside(self, request: HttpRequest, queryset) -> None:
        # The next sweep (every minute) enqueues them again, with a fresh count of failures.
        n = queryset.filter(dead_at__isnull=False, applied_at__isnull=True).update(dead_at=None, apply_failures=0)
        self.message_user(request, f"{n} event(s) will be retried by the next sweep.", messages.SUCCESS)

    raw_id_fields = ("user", "job", "cleaner", "job_recommendation", "cleaner_recommendation")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """The registry, read-only: rows change through the registry's services (activate, retrain)."""

    list_display = ("version", "status", "created_at", "promoted_at", "promoted_by", "pairwise", "ndcg", "r2", "reason")
    list_filter = ("status",)
    actions = ["activate_version"]
    change_list_template = "admin/recommendations/modelversion/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # the history of decisions stays; a version is retired, not deleted

    def _gate(self, row: ModelVersion, metric: str) -> str:
        value = registry.gate_metrics(row.metrics, registry.gate_scorer())[metric]
        return "-" if value is None else f"{value:.4f}"

    @admin.display(description="pairwise acc.")
    def pairwise(self, row: ModelVersion) -> str:
        return self._gate(row, "pairwise_accuracy")

    @admin.display(description="NDCG@5")
    def ndcg(self, row: ModelVersion) -> str:
        return self._gate(row, "ndcg_at_5")

    @admin.display(description="R²")
    def r2(self, row: ModelVersion) -> str:
        return self._gate(row, "r2")

    @admin.display(description="decision")
    def reason(self, row: ModelVersion) -> str:
        return (row.decision or {}).get("reason", "")

    @admin.action(description="Activate this version (rollback or roll forward)")
    def activate_version(self, request: HttpRequest, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        row = queryset.get()
        try:
            registry.model_version_activate(version=row.version, by=request.user)
        except (registry.ModelFilesUnusable, registry.ActivationUnavailable) as exc:
            self.message_user(request, f"Version {row.version} was not activated: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Version {row.version} is active; workers switch on their next task.")

    def get_urls(self) -> list:
        retrain = self.admin_site.admin_view(require_POST(self.retrain_view))
        return [path("retrain/", retrain, name="recommendations_modelversion_retrain"), *super().get_urls()]

    def retrain_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not self.has_view_permission(request):
            self.message_user(request, "You may not retrain the model.", messages.ERROR)
        else:
            try:
                task_id = registry.model_retrain_enqueue()
            except registry.RetrainAlreadyRunning as exc:
                self.message_user(request, f"Not queued: {exc}.", messages.WARNING)
            except QueueUnavailable:
                self.message_user(request, "Not queued: the task queue is unavailable.", messages.ERROR)
            else:
                self.message_user(request, f"Retrain queued (task {task_id}); the new version appears here when done.")
        return HttpResponseRedirect(reverse("admin:recommendations_modelversion_changelist"))


@admin.register(ModelHealthCheck)
class ModelHealthCheckAdmin(admin.ModelAdmin):
    list_display = ("checked_at", "version", "verdict", "alerted")
    list_filter = ("verdict", "alerted")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelHealthCheck | None = None) -> bool:
        return False
