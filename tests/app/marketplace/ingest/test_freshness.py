"""Read-your-writes: after a bulk write commits, what the signals would bump is bumped."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from app.accounts.models import User
from app.api.authentication import auth_cache_key
from app.common.redis_client import client as redis
from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.cache import GEN, OWNER
from app.recommendations.models import CleanerChange
from tests.app.marketplace.ingest import builders as b
from workers.recommend.cleaner_table import cleaner_table

pytestmark = pytest.mark.django_db


def generation(name: str) -> bytes | None:
    return redis().get(GEN.format(name=name))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Apply items and run what their commit runs (the test's transaction never commits)."""

    def run(*items, **options):
        with django_capture_on_commit_callbacks(execute=True):
            return b.apply(*items, **options)

    return run


def logged() -> list[int | None]:
    return list(CleanerChange.objects.order_by("id").values_list("cleaner_id", flat=True))


def test_a_cleaner_upsert_is_logged_for_the_cleaner_tables_and_moves_its_generations(committed) -> None:
    before = logged()
    committed(b.cleaner())
    pk = CleanerProfile.objects.get().pk
    after_create = (logged(), generation(f"cleaner:{pk}"), generation(f"owner:cleaner:{pk}"))

    committed(b.cleaner(hourly_rate=41))

    assert after_create[0][len(before) :] == [pk] and None not in after_create
    assert logged()[len(after_create[0]) :] == [pk]
    assert generation(f"cleaner:{pk}") != after_create[1] and generation(f"owner:cleaner:{pk}") != after_create[2]


def test_the_very_next_cleaner_table_read_sees_the_write(committed) -> None:
    committed(b.cleaner())
    assert list(cleaner_table.get()["hourly_rate"]) == [35.0]

    committed(b.cleaner(hourly_rate=41), b.cleaner("c-2", is_active=True))
    assert sorted(cleaner_table.get()["hourly_rate"]) == [35.0, 41.0]
    committed(b.patch("cleaner", "c-1", is_active=False))
    assert list(cleaner_table.get()["hourly_rate"]) == [35.0]


def test_a_job_or_bid_upsert_bumps_the_job_and_the_open_jobs(committed) -> None:
    committed(*b.world()[:3], b.job())
    job = CleaningJob.objects.get().pk
    cleaner = CleanerProfile.objects.get().pk
    before = {n: generation(n) for n in (f"job:{job}", "open-jobs", f"owner:job:{job}", f"cleaner:{cleaner}")}

    committed(b.job(budget=170))
    assert all(generation(n) != before[n] for n in (f"job:{job}", "open-jobs", f"owner:job:{job}"))
    job_gen = generation(f"job:{job}")
    committed(b.bid())
    assert generation(f"job:{job}") != job_gen and generation(f"cleaner:{cleaner}") != before[f"cleaner:{cleaner}"]


def test_a_property_or_blocked_cleaners_change_reaches_the_jobs_answers(committed) -> None:
    committed(*b.world()[:3], b.job())
    job = CleaningJob.objects.get().pk
    before = generation(f"job:{job}")

    committed(b.property_(size_sqft=2000))
    assert generation(f"job:{job}") != before
    before = generation(f"job:{job}")
    committed(b.client(blocked_cleaners=["c-1"]))
    assert generation(f"job:{job}") != before


def test_an_unchanged_item_bumps_nothing(committed) -> None:
    committed(*b.world())
    log = logged()
    gens = {n: generation(n) for n in ("open-jobs", f"job:{CleaningJob.objects.get().pk}")}

    committed(*b.world())

    assert logged() == log
    assert {n: generation(n) for n in gens} == gens


def test_a_dry_run_bumps_nothing(committed) -> None:
    log = logged()

    committed(*b.world(), dry_run=True)

    assert logged() == log


def test_a_changed_user_loses_its_cached_authentication(committed) -> None:
    committed(b.client())
    user = User.objects.get()
    token = Token.objects.create(user=user)
    redis().set(auth_cache_key(token.key), "{}")

    committed(b.client(name="Bo Chen-Li"))

    assert redis().get(auth_cache_key(token.key)) is None


def test_a_bulk_write_invalidates_everything_at_once(committed) -> None:
    model, open_jobs = generation("model"), generation("open-jobs")
    redis().set(OWNER.format(subject="job:999999"), "1:0")

    committed(*b.world()[:3], *(b.job(f"j-{i}") for i in range(1000)))  # 2,000 jobs and owner records

    assert generation("model") != model and generation("open-jobs") != open_jobs
    assert redis().get(OWNER.format(subject="job:999999")) is None


def test_a_written_job_bid_and_review_rescore_their_cleaner_after_commit(committed) -> None:
    from app.recommendations.cleaner_scores import cleaner_scores_reconcile
    from app.recommendations.models import CleanerScore

    committed(*b.world())  # a completed job, its accepted bid and its review, by bulk writes
    s = CleanerScore.objects.get(cleaner__external_id="c-1")

    assert (s.review_count, s.jobs_completed, s.bids_won, s.avg_rating) == (1, 1, 1, 9.0)
    assert cleaner_scores_reconcile().drifted == 0
