from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "app.marketplace"
    label = "marketplace"
