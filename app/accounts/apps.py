from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "app.accounts"
    label = "accounts"

    def ready(self) -> None:
        from . import login_guard, signals  # noqa: F401  (counts failed logins; keeps the authentication cache honest)
