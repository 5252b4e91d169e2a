"""The cleaner change log and the triggers that fill it (see CleanerChange and workers/recommend/cleaner_changes.py).

Triggers rather than signals: a `QuerySet.update`, a bulk insert, raw SQL and a cascade all
write through them, in the writer's transaction. On PostgreSQL one statement-level trigger
per event writes one row per changed cleaner from the statement's transition table (a bulk
insert of 100,000 cleaners costs one INSERT ... SELECT), stamped with the writer's
transaction id (`pg_current_xact_id()`: PostgreSQL 13 or later); a TRUNCATE writes one
"everything" row. On SQLite, row-level triggers.
A score's update is logged only when a column the workers' table reads changed (the feedback
counters move on every recommendation and are not read there).
"""

from django.db import migrations, models
from django.db.models.functions import Now

LOG = "recommendations_cleanerchange"
PROFILE = "marketplace_cleanerprofile"
SCORE = "recommendations_cleanerscore"
READ = ("cleaner_id", "quality", "reliability", "review_count")  # the score columns the table reads
XID = "pg_current_xact_id()::text::bigint"

PG_FUNCTIONS = f"""
CREATE FUNCTION recsvc_cleaners_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO {LOG} (cleaner_id, txid) SELECT DISTINCT %I, {XID} FROM written', TG_ARGV[0]);
    RETURN NULL;
END $$;
CREATE FUNCTION recsvc_cleaner_scores_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {LOG} (cleaner_id, txid)
    SELECT DISTINCT c, {XID} FROM (
        SELECT n.cleaner_id FROM written n JOIN was o ON o.id = n.id
        WHERE ({", ".join("n." + c for c in READ)}) IS DISTINCT FROM ({", ".join("o." + c for c in READ)})
        UNION SELECT o.cleaner_id FROM written n JOIN was o ON o.id = n.id WHERE n.cleaner_id <> o.cleaner_id
    ) AS moved (c);
    RETURN NULL;
END $$;
CREATE FUNCTION recsvc_cleaners_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {LOG} (cleaner_id, txid) VALUES (NULL, {XID});
    RETURN NULL;
END $$;
"""


def _pg_triggers(table: str, column: str) -> str:
    name = f"recsvc_{table}"
    updated = (
        "recsvc_cleaner_scores_updated()" if table == SCORE else f"recsvc_cleaners_written('{column}')"
    )
    return f"""
CREATE TRIGGER {name}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION recsvc_cleaners_written('{column}');
CREATE TRIGGER {name}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS was NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION {updated};
CREATE TRIGGER {name}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION recsvc_cleaners_written('{column}');
CREATE TRIGGER {name}_trunc AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION recsvc_cleaners_truncated();
"""


def _sqlite_triggers(table: str, column: str) -> list[str]:
    name = f"recsvc_{table}"
    moved = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in READ) if table == SCORE else "1"
    return [
        f"CREATE TRIGGER {name}_ins AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {LOG} (cleaner_id) VALUES (NEW.{column}); END",
        f"CREATE TRIGGER {name}_upd AFTER UPDATE ON {table} WHEN {moved} BEGIN "
        f"INSERT INTO {LOG} (cleaner_id) VALUES (NEW.{column}); "
        f"INSERT INTO {LOG} (cleaner_id) SELECT OLD.{column} WHERE OLD.{column} IS NOT NEW.{column}; END",
        f"CREATE TRIGGER {name}_del AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {LOG} (cleaner_id) VALUES (OLD.{column}); END",
    ]


TABLES = ((PROFILE, "id"), (SCORE, "cleaner_id"))


def triggers_create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS + "".join(_pg_triggers(t, c) for t, c in TABLES), params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for table, column in TABLES:
            for sql in _sqlite_triggers(table, column):
                schema_editor.execute(sql)


def triggers_drop(apps, schema_editor) -> None:
    pg = schema_editor.connection.vendor == "postgresql"
    for table, _ in TABLES:
        for event in ("ins", "upd", "del", *(("trunc",) if pg else ())):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS recsvc_{table}_{event}{' ON ' + table if pg else ''}")
    if pg:
        for fn in ("recsvc_cleaners_written()", "recsvc_cleaner_scores_updated()", "recsvc_cleaners_truncated()"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {fn}")


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0005_feedback_dead_letter"),
        ("marketplace", "0004_history_without_the_person"),
    ]

    operations = [
        migrations.CreateModel(
            name="CleanerChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("cleaner_id", models.BigIntegerField(null=True)),
                ("txid", models.BigIntegerField(null=True)),
                ("at", models.DateTimeField(db_default=Now())),
            ],
            options={
                "indexes": [
                    models.Index(fields=["txid"], name="cleaner_change_txid"),
                    models.Index(fields=["at"], name="cleaner_change_at"),
                ],
            },
        ),
        migrations.RunPython(triggers_create, triggers_drop, elidable=False),
    ]
