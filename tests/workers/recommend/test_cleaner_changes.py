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
