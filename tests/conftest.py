"""The suite's fixtures: every test gets its own models directory and no stale cached authentication.

Tests run against real services: the database of DATABASE_URL (SQLite by default) and the
Redis of REDIS_URL (`make test` starts an embedded one when it is unset). Async paths go
through a real worker process over Redis, never eager mode (tests/support/processes.py).

What tests in several folders share lives in tests/support/, loaded here as plugins; a
folder's own fixtures stay in its conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Before the plugins import them: a failed assert inside a helper shows its values too.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.auth",
    "tests.support.net",
    "tests.support.processes",
    "tests.support.training",
    "tests.support.webhooks",
]


@pytest.fixture(autouse=True)
def _no_stale_authentication() -> None:
    """A transactional test's flush deletes users, tokens and jobs without signals: forget them.

    And the login guard's failure counts: they are per address, and every test calls from
    127.0.0.1, so one test's bad logins would lock the next test's logins out.
    """
    try:
        from app.common.redis_client import client
        from app.recommendations.api import fast

        keys = [*client().scan_iter("recsvc:auth:*"), *client().scan_iter("recsvc:owner:*")]
        keys += client().scan_iter("recsvc:login:*")
        if keys:
            client().delete(*keys)
        fast._token_users.clear()
    except Exception:
        pass


@pytest.fixture(autouse=True)
def _fresh_cleaner_table() -> None:
    """A test's transaction is rolled back, which no change log can announce: load the table afresh."""
    import sys

    table = sys.modules.get("workers.recommend.cleaner_table")
    if table is not None:
        table.cleaner_table.invalidate()


@pytest.fixture(autouse=True)
def _isolated_models_dir(settings, models_dir: Path) -> None:
    settings.RECOMMENDATION_MODELS_DIR = models_dir
