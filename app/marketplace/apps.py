from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "app.marketplace"
    label = "marketplace"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (cache invalidation on job and bid changes)
