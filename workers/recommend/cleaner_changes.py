"""Which cleaners changed since this worker last looked: the reader of the `CleanerChange` log.

The log is written by database triggers in the writer's own transaction (migration
recommendations/0006), so every write path is in it: ORM saves, `QuerySet.update`, bulk
inserts, raw SQL, deletes and cascades, a TRUNCATE or a flush (an "everything" row).

Why not an id (or `updated_at`) high-water mark alone: on PostgreSQL, ids come from a sequence
when the row is written, not when its transaction commits. A writer that took id 10 and
commits after another writer's id 11 would be skipped by a reader that had already seen 11.
A re-read window of N seconds only bounds that risk by a guess about transaction length.

So on PostgreSQL the cursor is a *transaction horizon*, exact whatever the commit order. Each
row carries its writer's transaction id (`pg_current_xact_id()`, 64 bits: no wraparound).
Before reading, the reader takes `pg_snapshot_xmin(pg_current_snapshot())`: every transaction
with a smaller id has finished, so its rows (if it committed) are visible to the read that
follows. The next look reads the rows with `txid >=` that horizon: the rows of transactions
that may still have been running last time, and all newer ones. Invariant: after a look, every
committed row of a transaction older than its horizon has been read. Rows read twice (their
transaction is at or after the horizon both times) are skipped by id the second time.

On SQLite writers are serialized (a write transaction holds the database's write lock from its
first write to its commit), so log ids are handed out in commit order and "id > last id read"
is exact. A log whose newest id went below the last one read was emptied or reset: everything.

Staleness: none beyond the next look for a committed change; a look costs one indexed query
(plus one for the horizon on PostgreSQL). The price of the horizon: while a transaction stays
open (anywhere in the database), its xmin holds the horizon back and each look re-reads the
log rows written since it began (cheap, skipped by id, never re-applied); nothing is missed.
"""

from __future__ import annotations

from django.db import connection

from app.recommendations.models import CleanerChange

LOG = CleanerChange._meta.db_table
EVERYTHING = None  # what `changed` returns when the whole table must be read again


class ChangeCursor:
    """Where a worker is in the log. `start()` just before a full load; then `changed()` at each look."""

    def __init__(self) -> None:
        self.horizon = 0  # PostgreSQL: xmin at the last look; SQLite: the last id read
        self.seen: set[int] = set()  # PostgreSQL: ids read at the last look that may be read again

    def start(self) -> None:
        """Before a full load: what the load will read is at least what the log says now."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                self.horizon = _xmin(cursor)
            else:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {LOG}")
                self.horizon = cursor.fetchone()[0]
        self.seen = set()

    def changed(self) -> set[int] | None:
        """The ids of cleaners written since the last look (deleted ones too), or EVERYTHING."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                rows = self._read_postgresql(cursor)
            else:
                rows = self._read_sqlite(cursor)
        if rows is EVERYTHING:
            return EVERYTHING
        ids = set(rows)
        return EVERYTHING if None in ids else ids

    def _read_postgresql(self, cursor) -> list[int | None]:
        horizon = _xmin(cursor)  # first: what finished before it is visible to the read below
        cursor.execute(f"SELECT id, cleaner_id, txid FROM {LOG} WHERE txid >= %s", [self.horizon])
        rows = cursor.fetchall()
        fresh = [cleaner for pk, cleaner, _ in rows if pk not in self.seen]
        self.seen = {pk for pk, _, txid in rows if txid >= horizon}
        self.horizon = horizon
        return fresh

    def _read_sqlite(self, cursor) -> list[int | None] | None:
        # The newest row always comes back, so a log emptied or reset behind our back shows.
        cursor.execute(
            f"SELECT id, cleaner_id FROM {LOG} WHERE id > %s OR id = (SELECT MAX(id) FROM {LOG}) ORDER BY id",
            [self.horizon],
        )
        rows = cursor.fetchall()
        if self.horizon and (not rows or rows[-1][0] < self.horizon):
            return EVERYTHING
        last = self.horizon
        if rows:
            self.horizon = rows[-1][0]
        return [cleaner for pk, cleaner in rows if pk > last]


def _xmin(cursor) -> int:
    cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return cursor.fetchone()[0]
