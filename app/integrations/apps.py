from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "app.integrations"
    label = "integrations"

    def ready(self) -> None:
        from app.integrations import authentication  # noqa: F401  (documents the Bearer scheme in the schema)
