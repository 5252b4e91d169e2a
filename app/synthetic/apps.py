from django.apps import AppConfig


class SyntheticConfig(AppConfig):
    name = "app.synthetic"
    label = "synthetic"

    def ready(self) -> None:
        from app.synthetic import checks  # noqa: F401  (registers the demo-accounts check)
