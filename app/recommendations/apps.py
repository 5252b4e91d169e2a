from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "app.recommendations"
    label = "recommendations"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (keeps the workers' cleaner table fresh)
