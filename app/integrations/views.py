"""Operators' views of integration keys: list, create (the secret shown once), show, revoke.

Operators only: every other role, integration keys included, gets 403; no credential, 401.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.api.pagination import BoundedLimitOffsetPagination
from app.api.permissions import operator_only
from app.api.schema import COMMON, problems
from app.integrations import selectors, services
from app.integrations import serializers as s
from app.integrations.models import IntegrationKey

IsOperator = operator_only("Only operators can manage integration keys.")
_TAGS = ["integration keys"]


def _key(key_id: int) -> IntegrationKey:
    try:
        return selectors.integration_keys_list().get(pk=key_id)
    except IntegrationKey.DoesNotExist:
        raise Http404 from None


class IntegrationKeyListView(APIView):
    """Every integration key, revoked ones included; create a new one."""

    permission_classes = [IsOperator]

    @extend_schema(
        responses={200: s.IntegrationKeyPage, **problems(400, 403, *COMMON)},
        tags=_TAGS,
        operation_id="integration_keys_list",
    )
    def get(self, request: Request) -> Response:
        paginator = BoundedLimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.integration_keys_list(), request, view=self)
        return paginator.get_paginated_response(s.IntegrationKeyOutput(page, many=True).data)

    @extend_schema(
        request=s.IntegrationKeyInput,
        responses={201: s.IntegrationKeyCreated, **problems(400, 403, *COMMON)},
        tags=_TAGS,
    )
    def post(self, request: Request) -> Response:
        data = s.IntegrationKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = services.integration_key_create(name=data.validated_data["name"], created_by=request.user)
        url = request.build_absolute_uri(reverse("integration-key-detail", args=[key.pk]))
        body = {**s.IntegrationKeyOutput(key).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": url})


class IntegrationKeyDetailView(APIView):
    """One integration key (never its secret)."""

    permission_classes = [IsOperator]

    @extend_schema(responses={200: s.IntegrationKeyOutput, **problems(403, 404, *COMMON)}, tags=_TAGS)
    def get(self, request: Request, key_id: int) -> Response:
        return Response(s.IntegrationKeyOutput(_key(key_id)).data)


class IntegrationKeyRevokeView(APIView):
    """Revoke a key: refused from the next request on, for good. Revoking it again changes nothing."""

    permission_classes = [IsOperator]

    @extend_schema(request=None, responses={200: s.IntegrationKeyOutput, **problems(403, 404, *COMMON)}, tags=_TAGS)
    def post(self, request: Request, key_id: int) -> Response:
        return Response(s.IntegrationKeyOutput(services.integration_key_revoke(key=_key(key_id))).data)
