"""Admin for webhooks. Secrets are never shown here: owners see them through the API."""

from django.contrib import admin
from django.db import models

from .models import CallbackSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "url", "is_active", "disabled_reason", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "owner__username")
    raw_id_fields = ("owner",)
    readonly_fields = ("created_at",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(CallbackSecret)
class CallbackSecretAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "rotated_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "rotated_at")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("attempted_at", "status_code", "error", "duration_ms")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("msg_id", "event_type", "url", "endpoint", "status", "attempts", "next_attempt_at", "created_at")
    list_filter = ("status", "event_type")
    search_fields = ("msg_id", "url")
    raw_id_fields = ("endpoint", "request")
    readonly_fields = ("msg_id", "created_at", "delivered_at")
    inlines = [WebhookAttemptInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ("delivery", "attempted_at", "status_code", "duration_ms", "error")
    list_filter = ("status_code",)
    raw_id_fields = ("delivery",)
