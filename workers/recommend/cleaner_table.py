"""Every active cleaner's scoring columns, held in the worker's memory and kept fresh row by row.

Beside the numbers, `external_id` (an object array of the rows' strings) names each cleaner
in the answer as the marketplace knows it; no feature reads it.

Candidate selection then filters in numpy (service, weekday, hours, distance against each
cleaner's radius) and asks the database one small question per request: which of them are
blocked by this client or busy at that time. That keeps scoring 200 candidates near a
millisecond, where reading 200 profile rows through the ORM costs several.

Freshness: before each request the table reads the cleaner change log (cleaner_changes.py:
one indexed query) and re-reads only the cleaners written since its last look, in one more
query, replacing, appending or removing their rows in place. A committed change
is seen by the next request, whatever wrote it and in whatever order writers committed; the
cost of a look grows with the number of changes, not of cleaners (finding the rows is one
vectorised comparison over the id column). A full load happens only at the first request, after
an "everything" row (a TRUNCATE, a flush, a migration), when more than FULL_LOAD_ABOVE log rows
are new at once (a bulk import: one load is cheaper; the look fetches no more), and every CLEANER_TABLE_MAX_AGE seconds
as a safety net (a log pruned too early, a bug).

The columns are arrays with spare capacity; `get()` hands out views of the live rows, valid
until the next `get()`: a request copies its candidates' rule-score columns at once (`take`),
and the model's other columns and the answer's external ids from the same views later, before
it asks again (one request at a time per process: start-worker.sh refuses thread pools). Rows
are in no particular order after catch-ups: a removed row takes the last row's place.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from app.recommendations.cleaner_changes import CLEANER_TABLE_MAX_AGE
from workers.recommend.cleaner_changes import EVERYTHING, ChangeCursor

logger = logging.getLogger(__name__)

FULL_LOAD_ABOVE = 500  # log rows new at one look (about as many cleaners): beyond this, reload everything


class CleanerTable:
    def __init__(self) -> None:
        self._data: dict[str, np.ndarray] | None = None  # columns with spare rows beyond self._n
        self._n = 0
        self._cursor = ChangeCursor()
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self.full_loads = 0  # for the tests and the benchmark
        self.rows_applied = 0

    def invalidate(self) -> None:
        self._data = None

    def get(self) -> dict[str, np.ndarray]:
        with self._lock:
            if self._data is None or time.monotonic() - self._loaded_at > CLEANER_TABLE_MAX_AGE:
                self._load()
            else:
                self._catch_up()
            n = self._n
            return {name: column[:n] for name, column in self._data.items()}

    def nbytes(self) -> int:
        """The memory the table holds: its arrays, and the external id strings they point to."""
        if self._data is None:
            return 0
        strings = sum(len(s) + 49 for s in self._data["external_id"][: self._n] if s is not None)
        return sum(column.nbytes for column in self._data.values()) + strings

    def _load(self) -> None:
        from workers.recommend.candidates import active_cleaner_columns

        started = time.perf_counter()
        self._cursor.start()  # before the read: a change committed during it is read again next time
        columns = active_cleaner_columns()
        self._n = len(columns["cleaner_id"])
        self._data = columns
        self._loaded_at = time.monotonic()
        self.full_loads += 1
        ms = (time.perf_counter() - started) * 1000
        logger.info("cleaner table: full load of %d cleaners in %.0f ms", self._n, ms)

    def _catch_up(self) -> None:
        changed = self._cursor.changed(most=FULL_LOAD_ABOVE)
        if changed is EVERYTHING:
            self._load()
        elif changed:
            self._apply(sorted(changed))

    def _apply(self, ids: list[int]) -> None:
        from workers.recommend.candidates import active_cleaner_columns_of

        fresh = active_cleaner_columns_of(cleaner_ids=ids)
        live = self._data["cleaner_id"][: self._n]
        at = {int(live[i]): int(i) for i in np.flatnonzero(np.isin(live, ids))}
        for j, pk in enumerate(fresh["cleaner_id"].tolist()):
            row = at.pop(pk, None)
            if row is None:
                row = self._append()
            for name, column in self._data.items():
                column[row] = fresh[name][j]
        # What is left was deleted or deactivated. From the bottom up, so a row moved into a freed
        # place is never one still to be removed.
        for row in sorted(at.values(), reverse=True):
            self._remove(row)
        self.rows_applied += len(ids)
        logger.debug("cleaner table: %d changed cleaners applied", len(ids))

    def _append(self) -> int:
        if self._n == len(self._data["cleaner_id"]):
            grown = max(2 * self._n, 1024)
            for name, column in self._data.items():
                bigger = np.empty(grown, dtype=column.dtype)
                bigger[: self._n] = column[: self._n]
                self._data[name] = bigger
        self._n += 1
        return self._n - 1

    def _remove(self, row: int) -> None:
        last = self._n - 1
        for column in self._data.values():
            column[row] = column[last]
        self._data["external_id"][last] = None  # let the string go
        self._n = last


cleaner_table = CleanerTable()
