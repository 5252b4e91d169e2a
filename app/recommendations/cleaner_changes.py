"""The cleaner change log, from the writers' side: what keeps the workers' cleaner tables fresh.

Writers do nothing: database triggers (migration 0006) add a `CleanerChange` row for every
written `CleanerProfile` or `CleanerScore` in the writer's transaction, whatever the path
(an ORM save, `QuerySet.update`, a bulk insert, raw SQL, a delete). Each worker process reads
the rows written since its last look before each request (workers/recommend/cleaner_changes.py)
and re-reads those cleaners only (workers/recommend/cleaner_table.py).

`cleaner_tables_reload` writes an "everything" row: after a migration or a flush (their
post_migrate signal), so no worker keeps rows the database lost without a trigger seeing it.
`cleaner_changes_prune` drops rows older than RETENTION (the daily score refresh runs it): a
worker reloads everything every CLEANER_TABLE_MAX_AGE seconds, far within it.
`cleaner_triggers_ensure` (post_migrate too) puts back SQLite triggers that a later migration
took away: SQLite alters a column by copying the table and dropping the old one, triggers and all.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from app.recommendations.models import CleanerChange

logger = logging.getLogger(__name__)

CLEANER_TABLE_MAX_AGE = 300.0  # seconds between a worker's full loads: the safety net
RETENTION = timedelta(days=1)


def cleaner_tables_reload(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make every worker's table load everything at its next look."""
    connection = connections[using]
    # Stamped as the triggers stamp their rows: the readers find rows by transaction id.
    txid = "pg_current_xact_id()::text::bigint" if connection.vendor == "postgresql" else "NULL"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {CleanerChange._meta.db_table} (cleaner_id, txid) VALUES (NULL, {txid})")


def cleaner_changes_prune(*, older_than: timedelta = RETENTION) -> int:
    """Delete log rows no worker can still need; returns how many."""
    deleted, _ = CleanerChange.objects.filter(at__lt=timezone.now() - older_than).delete()
    return deleted


def cleaner_triggers_ensure(*, using: str = DEFAULT_DB_ALIAS) -> int:
    """SQLite: create the log's triggers that are missing (a table remade by a migration); returns how many."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return 0  # PostgreSQL alters tables in place: their triggers stay
    # The migration that created them is the one definition of their SQL.
    migration = importlib.import_module("app.recommendations.migrations.0006_cleaner_change")
    wanted = [sql for table, column in migration.TABLES for sql in migration._sqlite_triggers(table, column)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        existing = {row[0] for row in cursor.fetchall()}
        missing = [sql for sql in wanted if sql.split()[2] not in existing]  # CREATE TRIGGER <name> ...
        for sql in missing:
            cursor.execute(sql)
    if missing:
        logger.warning("cleaner change log: %d missing triggers created again", len(missing))
    return len(missing)
