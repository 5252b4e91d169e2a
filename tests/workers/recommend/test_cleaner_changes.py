"""The change log's reader sees every committed change once, even when writers commit out of order."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import connection

from app.marketplace.models import CleanerProfile
from app.recommendations.models import CleanerChange
from tests import factories as f
from workers.recommend.cleaner_changes import EVERYTHING, ChangeCursor

PROFILES = CleanerProfile._meta.db_table


def writer():
    s = connection.settings_dict
    conn = psycopg2.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432
    )
    conn.autocommit = False
    return conn


def rate(conn, cleaner: int, value: int) -> None:
    with conn.cursor() as cursor:
        cursor.execute(f"UPDATE {PROFILES} SET hourly_rate = %s WHERE id = %s", [value, cleaner])


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite serializes writers: commits are in id order")
def test_a_change_that_commits_after_a_later_one_is_not_skipped() -> None:
    early, late = f.cleaner(), f.cleaner()
    cursor = ChangeCursor()
    cursor.start()
    cursor.changed()  # the creations, read again after a start while other transactions run
    first, second = writer(), writer()
    try:
        rate(first, early.pk, 40)  # takes the smaller log id, commits last
        rate(second, late.pk, 41)
        second.commit()

        assert cursor.changed() == {late.pk}

        first.commit()
        assert cursor.changed() == {early.pk}
        assert cursor.changed() == set()  # each change once
    finally:
        first.close()
        second.close()
    ids = dict(CleanerChange.objects.filter(cleaner_id__in=[early.pk, late.pk]).values_list("cleaner_id", "id"))
    assert ids[early.pk] < ids[late.pk], "the early writer's row must have the smaller id, or this proves nothing"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a TRUNCATE trigger is PostgreSQL's")
def test_a_truncate_asks_for_everything() -> None:
    f.cleaner()
    cursor = ChangeCursor()
    cursor.start()

    with connection.cursor() as c:
        c.execute(f"TRUNCATE {PROFILES} CASCADE")

    assert cursor.changed() is EVERYTHING


@pytest.mark.django_db
def test_each_change_is_reported_once() -> None:
    cursor = ChangeCursor()
    cursor.start()
    cursor.changed()
    c = f.cleaner()

    assert cursor.changed() == {c.pk}
    assert cursor.changed() == set()


class RowsFetched:
    """The rows each statement returned (PostgreSQL's rowcount; SQLite reports none)."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.counts.append(context["cursor"].rowcount)
        return result


def log_rows(n: int) -> None:
    """`n` log rows, as a bulk import of `n` cleaners leaves them for a day (stamped as the triggers do)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CleanerChange._meta.db_table} (cleaner_id, txid) "
            "SELECT g, pg_current_xact_id()::text::bigint FROM generate_series(1, %s) g",
            [n],
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite's start reads one number")
def test_a_new_workers_start_reads_no_log_rows() -> None:
    # The full load that follows reads every cleaner: the log's old rows (a day of them, a
    # bulk import's 100,000) are nothing to it, and fetching them cost 235-537 ms.
    log_rows(2000)  # committed (no test transaction here), as the writers' are
    fetched = RowsFetched()

    with connection.execute_wrapper(fetched):
        ChangeCursor().start()

    assert fetched.counts and max(fetched.counts) <= 1, fetched.counts  # the snapshot


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a bound on PostgreSQL's statement")
def test_a_look_after_more_changes_than_a_catch_up_takes_fetches_only_enough_to_say_so() -> None:
    cursor = ChangeCursor()
    cursor.start()
    log_rows(2000)
    fetched = RowsFetched()

    with connection.execute_wrapper(fetched):
        changed = cursor.changed(most=100)

    assert changed is EVERYTHING
    assert max(fetched.counts) <= 102, fetched.counts  # the snapshot and one row more than `most`
    cursor.start()  # the full load that follows (it reads them all)
    assert cursor.changed(most=100) == set()
