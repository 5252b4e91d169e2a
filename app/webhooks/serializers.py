"""Input and output shapes of the webhook API. Secrets appear only in the outputs that say so."""

from rest_framework import serializers

from app.api.fields import StrictInput
from app.webhooks.ssrf import validate_webhook_url


class WebhookEndpointInput(StrictInput):
    url = serializers.URLField(max_length=2048, validators=[validate_webhook_url])
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookEndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    owner_id = serializers.IntegerField()
    url = serializers.URLField()
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookEndpointCreated(WebhookEndpointOutput):
    """Only the response that creates an endpoint carries its secret."""

    secret = serializers.CharField()


class CallbackSecretOutput(serializers.Serializer):
    secret = serializers.CharField()
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True)


class WebhookEndpointPage(serializers.Serializer):
    """One page of endpoints (limit/offset pagination)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = WebhookEndpointOutput(many=True)
