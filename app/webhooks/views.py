"""Thin views for webhook endpoints and the callback secret: validate, call one service, answer.

Endpoints that are not the caller's answer 404, like ids that do not exist; operators see all.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.accounts.models import User
from app.api.pagination import BoundedLimitOffsetPagination
from app.api.schema import COMMON, problems
from app.webhooks import selectors, services
from app.webhooks import serializers as s
from app.webhooks.models import WebhookEndpoint


def _visible_endpoint(user: User, endpoint_id: int) -> WebhookEndpoint:
    try:
        return selectors.webhook_endpoints_visible(user=user).get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404 from None


class WebhookEndpointListView(APIView):
    """Your webhook endpoints (every one, for operators); register a new one."""

    @extend_schema(
        responses={200: s.WebhookEndpointPage, **problems(400, *COMMON)},
        tags=["webhooks"],
        operation_id="webhook_endpoints_list",
    )
    def get(self, request: Request) -> Response:
        paginator = BoundedLimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.webhook_endpoints_visible(user=request.user), request, view=self)
        return paginator.get_paginated_response(s.WebhookEndpointOutput(page, many=True).data)

    @extend_schema(
        request=s.WebhookEndpointInput,
        responses={201: s.WebhookEndpointCreated, **problems(400, *COMMON)},
        tags=["webhooks"],
    )
    def post(self, request: Request) -> Response:
        data = s.WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(owner=request.user, **data.validated_data)
        url = request.build_absolute_uri(reverse("webhook-endpoint-detail", args=[endpoint.pk]))
        return Response(
            s.WebhookEndpointCreated(endpoint).data, status=status.HTTP_201_CREATED, headers={"Location": url}
        )


class WebhookEndpointDetailView(APIView):
    """One endpoint (without its secret); delete it to stop its deliveries."""

    @extend_schema(responses={200: s.WebhookEndpointOutput, **problems(404, *COMMON)}, tags=["webhooks"])
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(s.WebhookEndpointOutput(_visible_endpoint(request.user, endpoint_id)).data)

    @extend_schema(responses={204: None, **problems(404, *COMMON)}, tags=["webhooks"])
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(endpoint=_visible_endpoint(request.user, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CallbackSecretView(APIView):
    """The secret that signs deliveries to your requests' `callback_url`; POST rotates it."""

    @extend_schema(responses={200: s.CallbackSecretOutput, **problems(*COMMON)}, tags=["webhooks"])
    def get(self, request: Request) -> Response:
        return Response(s.CallbackSecretOutput(services.callback_secret_get_or_create(user_id=request.user.pk)).data)

    @extend_schema(request=None, responses={200: s.CallbackSecretOutput, **problems(*COMMON)}, tags=["webhooks"])
    def post(self, request: Request) -> Response:
        return Response(s.CallbackSecretOutput(services.callback_secret_rotate(user_id=request.user.pk)).data)
