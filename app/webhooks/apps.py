from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "app.webhooks"
    label = "webhooks"
