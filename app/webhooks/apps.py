from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "app.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from app.webhooks import checks  # noqa: F401  (registers the system checks)
