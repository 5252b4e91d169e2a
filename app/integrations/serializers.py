"""Input and output shapes of the integration-key API. The secret appears only in `IntegrationKeyCreated`."""

from rest_framework import serializers

from app.api.fields import StrictInput


class IntegrationKeyInput(StrictInput):
    name = serializers.CharField(max_length=100, help_text="What the key is for, e.g. the marketplace's sync job.")


class IntegrationKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The secret's first characters: public, to tell keys apart.")
    user_id = serializers.IntegerField(help_text="The key's own user: requests it makes are recorded under it.")
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, default=None, help_text="The operator who created it."
    )
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute: not written on every request.")
    revoked_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField(help_text="False once revoked.")


class IntegrationKeyCreated(IntegrationKeyOutput):
    """Only the response that creates a key carries its secret: it is stored as a hash and never shown again."""

    secret = serializers.CharField(help_text="Send it as `Authorization: Bearer <secret>`. Shown this once.")


class IntegrationKeyPage(serializers.Serializer):
    """One page of keys (limit/offset pagination), newest first."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = IntegrationKeyOutput(many=True)
