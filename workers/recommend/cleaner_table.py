"""Every active cleaner's scoring columns, held in the worker's memory.

Beside the numbers, `external_id` (an object array of the rows' strings) names each cleaner
in the answer as the marketplace knows it; no feature reads it.

Candidate selection then filters in numpy (service, weekday, hours, distance against each
cleaner's radius) and asks the database one small question per request: which of them are
blocked by this client or busy at that time. That keeps scoring 200 candidates near a
millisecond, where reading 200 profile rows through the ORM costs several.

Freshness: any save of a `CleanerProfile` or `CleanerScore` (signals), a score refresh, or
a data generation bumps a version number in Redis; each request compares it (one Redis GET)
and reloads the table when it changed. `CLEANER_TABLE_MAX_AGE` bounds the staleness of
changes made behind the ORM's back (raw SQL, `QuerySet.update`).
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from app.common.redis_client import client as redis_client
from app.recommendations.cleaner_version import CLEANER_TABLE_MAX_AGE, VERSION_KEY

logger = logging.getLogger(__name__)


class CleanerTable:
    def __init__(self) -> None:
        self._columns: dict[str, np.ndarray] | None = None
        self._version: bytes | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def _current_version(self) -> bytes | None:
        try:
            return redis_client().get(VERSION_KEY)
        except Exception:  # Redis down: fall back to the age limit
            return self._version

    def invalidate(self) -> None:
        self._columns = None

    def get(self) -> dict[str, np.ndarray]:
        version = self._current_version()
        stale = time.monotonic() - self._loaded_at > CLEANER_TABLE_MAX_AGE
        if self._columns is None or version != self._version or stale:
            with self._lock:
                from workers.recommend.candidates import active_cleaner_columns

                self._columns = active_cleaner_columns()
                self._version = version
                self._loaded_at = time.monotonic()
        return self._columns


cleaner_table = CleanerTable()
