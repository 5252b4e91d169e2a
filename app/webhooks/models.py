"""Webhook tables: where to send (endpoints, callback secrets), what to send (deliveries), what happened (attempts).

A delivery is one message to one target: a registered endpoint, or the `callback_url` of the
request it is about (then `endpoint` is null). An operators' alert is about no request. Its `msg_id` is the Standard Webhooks
`webhook-id`: derived from (event, request, target), so it is stable across retries and a
second attempt to create the same message hits the unique constraint instead of a duplicate.
`enqueued_at` says whether a broker message is out for the delivery's next attempt.
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from app.webhooks.ssrf import validate_webhook_url

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    # The API checks it too; here so that the admin cannot register an unsafe URL either.
    url = models.URLField(max_length=2048, validators=[validate_webhook_url])
    # Shown to the owner once, in the response that creates the endpoint.
    secret = models.CharField(max_length=64, default=secret_generate, editable=False)
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "is_active"], name="webhook_endpoint_owner_active")]

    def __str__(self) -> str:
        return f"{self.url} ({'active' if self.is_active else 'disabled'})"


class CallbackSecret(models.Model):
    """The secret that signs deliveries to a user's `callback_url`s; created on first use."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_callback_secret"
    )
    secret = models.CharField(max_length=64, default=secret_generate, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"callback secret of {self.user}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # the retry schedule ran out
        DISABLED = "disabled"  # the target answered 410 Gone, or its endpoint was disabled

    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Null for an event about no request: a model health alert sent to operators' endpoints.
    request = models.ForeignKey(
        "recommendations.RecommendationRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    url = models.URLField(max_length=2048)
    event_type = models.CharField(max_length=64)
    msg_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, the end of its lease.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a message for the next attempt was handed to the broker; null when none is out (the
    # attempt that consumes it clears it). The sweeper sends only what has none, or one so old
    # that it must be lost, so a backlog is never sent twice (app/webhooks/services.py).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "event_type", "endpoint"],
                condition=Q(endpoint__isnull=False),
                name="webhook_delivery_one_per_endpoint",
            ),
            models.UniqueConstraint(
                fields=["request", "event_type"],
                condition=Q(endpoint__isnull=True),
                name="webhook_delivery_one_per_callback",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id} -> {self.url} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null: no HTTP answer
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error[:40]}"
