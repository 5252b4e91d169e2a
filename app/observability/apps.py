from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "app.observability"
    label = "observability"

    def ready(self) -> None:
        # Both sides need these: the web publishes tasks with the request id in their headers,
        # the worker reads it back and formats its logs. Connecting signals imports no task code.
        from app.observability import checks, propagation  # noqa: F401
