"""The worker's cleaner table catches up row by row from the change log, whatever wrote the change."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.db import connection

from app.marketplace.models import CleanerProfile
from app.recommendations.cleaner_changes import cleaner_tables_reload
from app.recommendations.models import CleanerScore
from tests import factories as f
from workers.recommend.candidates import active_cleaner_columns
from workers.recommend.cleaner_table import FULL_LOAD_ABOVE, CleanerTable

pytestmark = pytest.mark.django_db


def by_id(columns: dict[str, np.ndarray]) -> dict[str, list]:
    order = np.argsort(columns["cleaner_id"], kind="stable")
    return {name: column[order].tolist() for name, column in columns.items()}


@pytest.fixture
def table() -> CleanerTable:
    t = CleanerTable()
    t.get()
    return t


def test_it_appends_a_created_cleaner_without_a_full_load(table) -> None:
    c = f.cleaner(hourly_rate=Decimal("41"))

    columns = table.get()

    assert columns["cleaner_id"].tolist() == [c.pk] and columns["hourly_rate"].tolist() == [41.0]
    assert table.full_loads == 1


def test_it_replaces_a_changed_row_written_behind_the_orms_back(table) -> None:
    a, b = f.cleaner(), f.cleaner()
    table.get()

    CleanerProfile.objects.filter(pk=a.pk).update(hourly_rate=Decimal("50"), home_lat=41.0)  # no signal
    columns = table.get()

    assert dict(zip(columns["cleaner_id"].tolist(), columns["hourly_rate"].tolist(), strict=True)) == {
        a.pk: 50.0,
        b.pk: 35.0,
    }
    assert table.full_loads == 1


def test_it_follows_a_score_written_by_a_bulk_upsert(table) -> None:
    c = f.cleaner()
    table.get()

    CleanerScore.objects.bulk_create(
        [CleanerScore(cleaner=c, quality=0.93, reliability=0.81, review_count=4)],
        update_conflicts=True,
        unique_fields=["cleaner"],
        update_fields=["quality", "reliability", "review_count"],
    )
    columns = table.get()

    assert (columns["quality"].tolist(), columns["reliability"].tolist(), columns["review_count"].tolist()) == (
        [0.93],
        [0.81],
        [4.0],
    )


def test_it_removes_a_deactivated_or_deleted_cleaner(table) -> None:
    a, b, c = f.cleaner(), f.cleaner(), f.cleaner()
    table.get()

    CleanerProfile.objects.filter(pk=a.pk).update(is_active=False)
    with connection.cursor() as cursor:  # raw SQL: only the trigger sees it
        cursor.execute(f"DELETE FROM {CleanerProfile._meta.db_table} WHERE id = %s", [c.pk])
    columns = table.get()

    assert columns["cleaner_id"].tolist() == [b.pk]
    assert table.full_loads == 1


def test_after_any_mix_of_writes_it_holds_what_a_full_load_reads(table) -> None:
    rng = np.random.default_rng(7)
    cleaners = [f.cleaner() for _ in range(12)]
    table.get()
    for step in range(40):
        c = cleaners[int(rng.integers(len(cleaners)))]
        action = step % 4
        if action == 0:
            CleanerProfile.objects.filter(pk=c.pk).update(hourly_rate=Decimal(int(rng.integers(20, 90))))
        elif action == 1:
            CleanerProfile.objects.filter(pk=c.pk).update(is_active=not CleanerProfile.objects.get(pk=c.pk).is_active)
        elif action == 2:
            cleaners.append(f.cleaner(home_lat=40.0 + step / 100))
        elif CleanerProfile.objects.filter(pk=c.pk).exists():
            c.user.delete()  # the cascade deletes the profile and its score
            cleaners.remove(c)
        if step % 3 == 0:
            table.get()  # catch up now and then, several changes at once otherwise

    assert by_id(table.get()) == by_id(active_cleaner_columns())
    assert table.full_loads == 1


def test_many_changes_at_once_or_an_everything_row_load_it_all(table) -> None:
    CleanerProfile.objects.bulk_create(
        [
            CleanerProfile(user=f.user("cleaner"), home_lat=40.7, home_lng=-74.0, hourly_rate=30)
            for _ in range(FULL_LOAD_ABOVE + 1)
        ]
    )
    assert len(table.get()["cleaner_id"]) == FULL_LOAD_ABOVE + 1 and table.full_loads == 2

    cleaner_tables_reload()
    table.get()
    assert table.full_loads == 3


def test_a_catch_up_reads_the_same_columns_as_a_full_load() -> None:
    from workers.recommend.candidates import active_cleaner_columns_of

    a, b = f.cleaner(hourly_rate=Decimal("41.50"), verified=False), f.cleaner()
    CleanerScore.objects.create(cleaner=b, quality=0.7, reliability=0.6, review_count=3)
    f.cleaner(is_active=False)

    assert by_id(active_cleaner_columns_of(cleaner_ids=[a.pk, b.pk, 999_999])) == by_id(active_cleaner_columns())
