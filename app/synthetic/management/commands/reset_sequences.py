"""Set every id sequence of the project's tables to max(id), e.g. after loading rows with explicit ids.

PostgreSQL keeps a sequence per table that rows inserted with explicit ids do not advance, so
the next plain insert collides; SQLite picks max(rowid) + 1 itself and needs nothing.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model

PROJECT_APP_PREFIX = "app."
EXTRA_APP_LABELS = ("authtoken",)


def project_models() -> list[type[Model]]:
    """Models of the project's apps and auth tokens, with their many-to-many tables."""
    return [
        model
        for config in apps.get_app_configs()
        if config.name.startswith(PROJECT_APP_PREFIX) or config.label in EXTRA_APP_LABELS
        for model in config.get_models(include_auto_created=True)
    ]


class Command(BaseCommand):
    help = "Reset the id sequences of the project's tables to max(id) (PostgreSQL; a no-op on SQLite)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database: str, **options) -> None:
        connection = connections[database]
        if connection.vendor == "sqlite":
            self.stdout.write("SQLite keeps no sequences to reset: nothing to do.")
            return
        statements = connection.ops.sequence_reset_sql(no_style(), project_models())
        with transaction.atomic(using=database), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        # Ids may now be handed out again: a cached "who owns job N" must not outlive that.
        from app.recommendations.cache import owner_forget_all

        owner_forget_all()
        self.stdout.write(f"Reset {len(statements)} sequences on {connection.vendor}.")
