"""`GET /api/v1/jobs/`: a client's own jobs (operators and integration keys: every job), newest first.

What a client needs to ask about one of its jobs by our id; the marketplace's backend names
jobs by its own ids instead. Jobs kept as history after a deletion are not listed.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.accounts.models import User
from app.api.pagination import BoundedLimitOffsetPagination
from app.api.schema import COMMON, problems
from app.marketplace.models import CleaningJob


class JobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    service_type = serializers.CharField()
    status = serializers.CharField()
    scheduled_start = serializers.DateTimeField()
    duration_hours = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    budget = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)


class JobPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobOutput(many=True)


class JobListView(APIView):
    """The caller's jobs: a client's own; operators and integration keys see all; cleaners none (403)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: JobPage, **problems(400, 403, *COMMON)}, tags=["jobs"], operation_id="jobs_list")
    def get(self, request: Request) -> Response:
        user = request.user
        jobs = CleaningJob.objects.filter(client__isnull=False, property__isnull=False).order_by("-pk")
        if user.role == User.Role.CLIENT and not user.is_operator:
            jobs = jobs.filter(client__user=user)
        elif not (user.is_operator or user.role == User.Role.INTEGRATION):
            raise PermissionDenied("Only clients (their own jobs), operators and integration keys list jobs.")
        paginator = BoundedLimitOffsetPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(JobOutput(page, many=True).data)
