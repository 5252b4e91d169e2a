from django.apps import AppConfig


class SyntheticConfig(AppConfig):
    name = "app.synthetic"
    label = "synthetic"
