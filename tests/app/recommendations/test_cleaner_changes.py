"""The change log from the writers' side: the triggers write it, the daily refresh prunes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from app.marketplace.models import CleanerProfile
from app.recommendations.cleaner_changes import cleaner_changes_prune
from app.recommendations.models import CleanerChange, CleanerScore
from tests import factories as f

pytestmark = pytest.mark.django_db


def logged_after(mark: int) -> list[int | None]:
    return list(CleanerChange.objects.filter(id__gt=mark).order_by("id").values_list("cleaner_id", flat=True))


def last() -> int:
    return CleanerChange.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_every_write_path_of_a_cleaner_is_logged() -> None:
    c = f.cleaner()
    pk, mark = c.pk, last()
    CleanerProfile.objects.filter(pk=pk).update(hourly_rate=50)
    CleanerScore.objects.create(cleaner=c, quality=0.8)
    c.delete()

    assert logged_after(mark) == [pk] * 4  # the update, the score, its cascaded delete, the delete


def test_a_score_counter_no_table_reads_is_not_logged() -> None:
    c = f.cleaner()
    CleanerScore.objects.create(cleaner=c)
    mark = last()

    CleanerScore.objects.filter(cleaner=c).update(times_recommended=5, times_viewed=2)

    assert logged_after(mark) == []


def test_the_prune_keeps_what_a_worker_may_still_need() -> None:
    f.cleaner()
    CleanerChange.objects.update(at=timezone.now() - timedelta(days=2))
    fresh = f.cleaner()

    assert cleaner_changes_prune() >= 1
    assert list(CleanerChange.objects.values_list("cleaner_id", flat=True)) == [fresh.pk]


def _radius(default: float):
    from django.db import models

    field = models.FloatField(default=default)
    field.set_attributes_from_name("service_radius_km")
    field.model = CleanerProfile
    return field


@pytest.mark.django_db(transaction=True)
def test_a_later_migration_that_remakes_the_cleaners_table_keeps_it_logged() -> None:
    # SQLite alters a column by copying the table to a new one and dropping the old, whose
    # triggers go with it: the log would stop at the first such migration, silently.
    from django.core.management import call_command
    from django.db import connection

    old = CleanerProfile._meta.get_field("service_radius_km")
    with connection.schema_editor() as editor:
        editor.alter_field(CleanerProfile, old, _radius(20))
    try:
        call_command("migrate", verbosity=0)  # what follows every migration: its post_migrate
        c = f.cleaner()
        mark = last()
        CleanerProfile.objects.filter(pk=c.pk).update(hourly_rate=50)

        assert logged_after(mark) == [c.pk]
    finally:
        with connection.schema_editor() as editor:
            editor.alter_field(CleanerProfile, _radius(20), old)
        call_command("migrate", verbosity=0)
