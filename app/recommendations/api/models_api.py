"""Operators' model registry views: list the versions, retrain now, activate a version.

Operators only: other roles get 403, a request without a token 401. Activation asks a serving
worker to load the version first and answers 409 if it cannot (missing, corrupt or
incompatible files), 503 if no worker answered in time.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.api.errors import Conflict, ServiceUnavailable
from app.api.fields import StrictInput
from app.api.pagination import BoundedLimitOffsetPagination
from app.api.permissions import operator_only
from app.api.schema import COMMON, problems
from app.common.tasks import QueueUnavailable
from app.recommendations import registry
from app.recommendations.models import ModelVersion

IsOperator = operator_only("Only operators can manage model versions.")


class ModelVersionOutput(serializers.ModelSerializer):
    promoted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The operator who activated it; null: the automatic gate."
    )
    summary = serializers.SerializerMethodField(help_text="The gate's metrics on its validation slice.")

    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "status",
            "created_at",
            "promoted_at",
            "promoted_by",
            "summary",
            "metrics",
            "training_data",
            "reviews_until",
            "feedback_until",
            "decision",
            "baseline",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_summary(self, row: ModelVersion) -> dict:
        scorer = registry.gate_scorer()
        return {
            "scorer": scorer,
            **registry.gate_metrics(row.metrics, scorer),
            "rule_based_pairwise_accuracy": registry.gate_metrics(row.metrics, "rule_based")["pairwise_accuracy"],
            "mae": row.metrics.get("mae"),
            "ceiling_r2": row.metrics.get("ceiling_r2"),
        }


class ModelVersionPage(serializers.Serializer):
    """One page of versions (limit/offset pagination)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ModelVersionOutput(many=True)


class ModelListView(APIView):
    """The model registry, newest first."""

    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description="Page size (1-100, default 50); else a 400."),
            OpenApiParameter("offset", int, description="Rows to skip (0 or more); else a 400."),
        ],
        responses={200: ModelVersionPage, **problems(400, 403, *COMMON)},
        tags=["models"],
    )
    def get(self, request: Request) -> Response:
        paginator = BoundedLimitOffsetPagination()
        page = paginator.paginate_queryset(registry.model_versions_list(), request, view=self)
        return paginator.get_paginated_response(ModelVersionOutput(page, many=True).data)


class RetrainView(APIView):
    """Queue a retrain now. Its candidate is promoted only if the gate lets it through."""

    permission_classes = [IsOperator]

    class Input(StrictInput):
        force = serializers.BooleanField(default=False, help_text="Retrain even when no new data arrived.")

    class Output(serializers.Serializer):
        task_id = serializers.CharField()
        status = serializers.CharField()
        status_url = serializers.CharField(help_text="The registry: the new version appears there.")

    @extend_schema(
        request=Input,
        responses={202: OpenApiResponse(Output, description="Queued."), **problems(400, 403, 409, 503, *COMMON)},
        tags=["models"],
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            task_id = registry.model_retrain_enqueue(force=data.validated_data["force"])
        except registry.RetrainAlreadyRunning as exc:
            raise Conflict(
                f"A retrain is already queued or running (task {exc.holder}); wait for it to finish."
            ) from None
        except QueueUnavailable:
            raise ServiceUnavailable(
                "The task queue is unavailable; the retrain was not queued. Retry shortly."
            ) from None
        url = request.build_absolute_uri(reverse("model-list"))
        return Response({"task_id": task_id, "status": "queued", "status_url": url}, status=status.HTTP_202_ACCEPTED)


class ActivateView(APIView):
    """Make a version the active one: roll back to an older version or forward to a newer one."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=None, responses={200: ModelVersionOutput, **problems(403, 404, 409, 503, *COMMON)}, tags=["models"]
    )
    def post(self, request: Request, version: str) -> Response:
        if len(version) > ModelVersion._meta.get_field("version").max_length or "\x00" in version:
            raise Http404  # no version is called this (and PostgreSQL cannot compare a string holding NUL)
        try:
            row = registry.model_version_activate(version=version, by=request.user)
        except ModelVersion.DoesNotExist:
            raise Http404 from None
        except registry.ModelFilesUnusable as exc:
            raise Conflict(f"Version {version} cannot be activated: the workers cannot load it ({exc})") from None
        except registry.ActivationUnavailable as exc:
            raise ServiceUnavailable(str(exc).capitalize() + ".") from None
        return Response(ModelVersionOutput(row).data)
