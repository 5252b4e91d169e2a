from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "app.recommendations"
    label = "recommendations"

    def ready(self) -> None:
        # signals keep the workers' cleaner table fresh; checks registers the A/B settings check.
        from . import checks, signals  # noqa: F401
