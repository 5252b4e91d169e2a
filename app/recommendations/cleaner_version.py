"""The version of the cleaner data, in Redis: writers bump it, each worker's cleaner table reads it.

Any save of a `CleanerProfile` or `CleanerScore` (signals), a score refresh or a data generation
calls `cleaners_changed`; a worker compares the version before each request and reloads its
in-memory table when it moved (workers/recommend/cleaner_table.py). `CLEANER_TABLE_MAX_AGE`
bounds the staleness of changes made behind the ORM's back (raw SQL, `QuerySet.update`).
"""

from __future__ import annotations

import logging

from app.common.redis_client import client

logger = logging.getLogger(__name__)

VERSION_KEY = "recsvc:cleaners:version"
CLEANER_TABLE_MAX_AGE = 300.0


def cleaners_changed() -> None:
    """Tell every worker that cleaner data changed (cheap; safe to call often)."""
    try:
        client().incr(VERSION_KEY)
    except Exception:  # a missed bump only delays freshness to MAX_AGE
        logger.warning("could not bump %s; workers refresh within %ss", VERSION_KEY, CLEANER_TABLE_MAX_AGE)
