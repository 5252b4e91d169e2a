from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "app.accounts"
    label = "accounts"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (keeps the authentication cache honest)
