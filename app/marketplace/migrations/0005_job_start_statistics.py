"""Statistics on the weekday and hour of a job's start, so that PostgreSQL plans the open-jobs query well.

The open-jobs query of a cleaner (`workers.recommend.candidates.open_jobs_query`) filters on
`EXTRACT(ISODOW ...)` and `EXTRACT(HOUR ...)` of `scheduled_start`. Without statistics on these
expressions the planner guesses them at a fraction of their real share, believes a few dozen rows
match, and sorts every open job instead of walking `job_status_start` in time order and stopping
at the first rows it needs (it read all 20,000 open jobs to return 2,000). PostgreSQL 14+ keeps
statistics on expressions (`CREATE STATISTICS`); they fill at the next ANALYZE (autovacuum's).
SQLite has no such statistics and needs none: it walks the index for ORDER BY ... LIMIT.
"""

from django.db import migrations

NAME = "job_start_isodow_hour"
# The expressions exactly as the ORM writes them (ExtractIsoWeekDay and ExtractHour with USE_TZ, in UTC).
CREATE = (
    f"CREATE STATISTICS IF NOT EXISTS {NAME} ON "
    "(EXTRACT(ISODOW FROM scheduled_start AT TIME ZONE 'UTC')), "
    "(EXTRACT(HOUR FROM scheduled_start AT TIME ZONE 'UTC')) "
    "FROM marketplace_cleaningjob"
)


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        schema_editor.execute("ANALYZE marketplace_cleaningjob")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0004_history_without_the_person")]

    operations = [migrations.RunPython(create, drop)]
