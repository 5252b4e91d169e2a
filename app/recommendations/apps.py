from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "app.recommendations"
    label = "recommendations"

    def ready(self) -> None:
        # signals keep cached answers fresh; checks registers the A/B settings check.
        from django.db.models.signals import post_migrate

        from . import checks, signals  # noqa: F401

        post_migrate.connect(_cleaner_tables_reload, sender=self)


def _cleaner_tables_reload(using: str, **kwargs) -> None:
    # After a migration or a flush (tests): rows may have gone without a trigger seeing them.
    # (Not after migrating back to before the log.)
    from django.db import connections

    # A later migration may have remade a logged table on SQLite, which drops its triggers.
    from app.recommendations.cleaner_changes import cleaner_tables_reload, cleaner_triggers_ensure
    from app.recommendations.models import CleanerChange

    if CleanerChange._meta.db_table in connections[using].introspection.table_names():
        cleaner_triggers_ensure(using=using)
        cleaner_tables_reload(using=using)
