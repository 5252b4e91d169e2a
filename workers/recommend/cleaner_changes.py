"""Which cleaners changed since this worker last looked: the reader of the `CleanerChange` log.

The log is written by database triggers in the writer's own transaction (migration
recommendations/0006), so every write path is in it: ORM saves, `QuerySet.update`, bulk
inserts, raw SQL, deletes and cascades, a TRUNCATE or a flush (an "everything" row).

Why not an id (or `updated_at`) high-water mark alone: on PostgreSQL, ids come from a sequence
when the row is written, not when its transaction commits. A writer that took id 10 and
commits after another writer's id 11 would be skipped by a reader that had already seen 11.
A re-read window of N seconds only bounds that risk by a guess about transaction length.

So on PostgreSQL the cursor is the *snapshot* of the last look, exact whatever the commit
order. Each row carries its writer's transaction id (`pg_current_xact_id()`, 64 bits: no
wraparound), and each look reads, in the same statement, `pg_current_snapshot()`: `xmax` (every
transaction id at or above it had not started) and `xip` (those still running). A row written by
a transaction below `xmax` and not in `xip` was visible to that look if it had committed. So the
next look reads exactly the rows of transactions that could not be seen last time:
`txid >= xmax OR txid = ANY(xip)`. A transaction that commits late is in `xip` at every look until
it commits, then its rows are read once. Nothing is read twice, and a long transaction elsewhere
(a dump, a slow report) costs nothing but its id in the list.

On SQLite writers are serialized (a write transaction holds the database's write lock from its
first write to its commit), so log ids are handed out in commit order and "id > last id read"
is exact. A log whose newest id went below the last one read was emptied or reset: everything.

Staleness: none beyond the next look for a committed change (the next request); a look is
one indexed query returning only the new rows. What is left to the table's safety net
(CLEANER_TABLE_MAX_AGE): a log row pruned before a worker read it (RETENTION is a day).
"""

from __future__ import annotations

from django.db import connection

from app.recommendations.models import CleanerChange

LOG = CleanerChange._meta.db_table
EVERYTHING = None  # what `changed` returns when the whole table must be read again


class ChangeCursor:
    """Where a worker is in the log. `start()` just before a full load; then `changed()` at each look."""

    def __init__(self) -> None:
        self.horizon = 0  # PostgreSQL: the last snapshot's xmax; SQLite: the last id read
        self.running: list[int] = []  # PostgreSQL: the transactions running at the last look
        self.own: set[int] = set()  # PostgreSQL: log ids of the reader's own open transaction, read

    def start(self) -> None:
        """Before a full load: what the load will read is at least what the log says now.

        On PostgreSQL the snapshot only (and the reader's own rows, read once): the log's rows
        are nothing to the load, and a new worker's cursor would fetch all of them (a day of
        the log, 100,000 rows after a bulk import of as many cleaners: 235-537 ms).
        """
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                self._read_postgresql(cursor, since_last=False)
            else:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {LOG}")
                self.horizon = cursor.fetchone()[0]

    def changed(self, *, most: int | None = None) -> set[int] | None:
        """The ids of cleaners written since the last look (deleted ones too), or EVERYTHING.

        EVERYTHING too when more than `most` log rows are new (the caller reloads them all
        then): PostgreSQL fetches no more than one row beyond `most`.
        """
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                rows = self._read_postgresql(cursor, most=most)
            else:
                rows = self._read_sqlite(cursor)
        if rows is EVERYTHING or (most is not None and len(rows) > most):
            return EVERYTHING
        ids = set(rows)
        return EVERYTHING if None in ids else ids

    def _read_postgresql(self, cursor, *, since_last: bool = True, most: int | None = None) -> list[int | None]:
        # One statement, one snapshot: the rows it sees and the snapshot the next look starts
        # from. The reader's own open transaction (a test's; a worker reads outside any) sees its
        # own writes at once but is in no snapshot's xip: it is added, and its rows read once.
        mine = "pg_current_xact_id_if_assigned()::text::bigint"
        new = "(txid >= %s OR txid = ANY(%s::bigint[]))" if since_last else f"txid = {mine}"
        params = [self.horizon, self.running] if since_last else []
        limit = "" if most is None else " LIMIT %s"
        cursor.execute(
            f"SELECT 0, pg_current_snapshot()::text, {mine}, NULL "
            f"UNION ALL (SELECT 1, id::text, txid, cleaner_id FROM {LOG} WHERE {new} AND id <> ALL(%s::bigint[]){limit})",
            [*params, sorted(self.own), *([most + 1] if most is not None else [])],
        )
        rows = cursor.fetchall()
        snapshot, mine = next((snap, txid) for kind, snap, txid, _ in rows if kind == 0)
        self.horizon, self.running = _snapshot(snapshot)
        fresh = [cleaner for kind, _, _, cleaner in rows if kind == 1]  # own rows read before: left out above
        if mine is not None:
            self.running.append(mine)
            self.own |= {int(pk) for kind, pk, txid, _ in rows if kind == 1 and txid == mine}
        else:
            self.own = set()
        return fresh

    def _read_sqlite(self, cursor) -> list[int | None] | None:
        # The newest row always comes back, so a log emptied or reset behind our back shows.
        cursor.execute(
            # Two selects, not one OR: each finds its rows by the primary key (an OR scans the log).
            f"SELECT id, cleaner_id FROM {LOG} WHERE id > %s UNION "
            f"SELECT id, cleaner_id FROM {LOG} WHERE id = (SELECT MAX(id) FROM {LOG}) ORDER BY id",
            [self.horizon],
        )
        rows = cursor.fetchall()
        if self.horizon and (not rows or rows[-1][0] < self.horizon):
            return EVERYTHING
        last = self.horizon
        if rows:
            self.horizon = rows[-1][0]
        return [cleaner for pk, cleaner in rows if pk > last]


def _snapshot(text: str) -> tuple[int, list[int]]:
    """`xmin:xmax:xip,...` (pg_current_snapshot's text form) -> xmax and the running ids."""
    _, xmax, running = text.split(":")
    return int(xmax), [int(x) for x in running.split(",") if x]
