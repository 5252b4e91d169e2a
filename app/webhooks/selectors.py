"""Reads of the webhooks app."""

from __future__ import annotations

from django.db.models import QuerySet

from app.accounts.models import User
from app.webhooks.models import WebhookEndpoint


def webhook_endpoints_visible(*, user: User) -> QuerySet[WebhookEndpoint]:
    """The endpoints `user` may see: their own, or every endpoint for an operator."""
    qs = WebhookEndpoint.objects.order_by("-created_at", "-id")
    return qs if user.is_operator else qs.filter(owner=user)
