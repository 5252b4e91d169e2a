"""Cache generations (app/recommendations/cache.py): fresh values that expire, never revived."""

import pytest

from app.common.redis_client import client as redis_client
from app.recommendations.cache import (
    GEN,
    OWNER,
    OWNER_TTL,
    cache_lookup,
    cache_put,
    generation_bump,
    generation_ttl,
    owner_remember,
)

pytestmark = pytest.mark.django_db


def _lookup(job_id: int):
    return cache_lookup(kind="cleaners_for_job", user_id=1, job_id=job_id, cleaner_id=None, limit=10, mode="")


def test_each_bump_sets_a_new_value_that_expires(settings) -> None:
    key = GEN.format(name="job:900001")
    generation_bump("job:900001")
    first = redis_client().get(key)
    generation_bump("job:900001")

    assert redis_client().get(key) != first
    assert settings.RECOMMENDATION_CACHE_TTL < redis_client().ttl(key) <= generation_ttl()
    assert OWNER_TTL < redis_client().ttl(key)


def test_the_ttl_follows_a_longer_cache_ttl(settings) -> None:
    settings.RECOMMENDATION_CACHE_TTL = 30 * 24 * 3600

    assert generation_ttl() > settings.RECOMMENDATION_CACHE_TTL


def test_a_bump_invalidates_an_answer_for_longer_than_the_answer_lives() -> None:
    redis_client().delete(GEN.format(name="job:900002"))
    found = _lookup(900002)  # no generation yet: the entry records "0"
    cache_put(found.token, {"id": "x"})
    assert _lookup(900002).answer is not None

    generation_bump("job:900002")

    assert _lookup(900002).answer is None
    entry = found.token.rpartition("#")[0]
    # "0" reads again only once the generation expires, and by then the entry is gone.
    assert redis_client().ttl(entry) < redis_client().ttl(GEN.format(name="job:900002"))


def test_an_owner_record_is_distrusted_for_longer_than_it_lives() -> None:
    subject = "job:900003"
    redis_client().delete(GEN.format(name=f"owner:{subject}"))
    owner_remember(subject, 7, _lookup(900003).owner_gen)
    assert _lookup(900003).owner == 7

    generation_bump(f"owner:{subject}")

    assert _lookup(900003).owner is None
    assert redis_client().ttl(OWNER.format(subject=subject)) < redis_client().ttl(GEN.format(name=f"owner:{subject}"))


def test_an_earlier_versions_incr_still_bumps_a_generation() -> None:
    generation_bump("job:900004")
    found = _lookup(900004)
    cache_put(found.token, {"id": "x"})

    redis_client().incr(GEN.format(name="job:900004"))  # as a process of the previous version bumps

    assert _lookup(900004).answer is None


@pytest.mark.parametrize(("waited_hours", "cached"), [(0, True), (25, False)])
def test_only_a_request_that_finished_soon_enough_caches_its_answer(waited_hours, cached) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from app.recommendations.models import RecommendationRequest
    from tests import factories as f
    from workers.recommend import runner
    from workers.recommend.engine import RecommendationEngine

    job = f.job()
    user = job.client.user
    found = cache_lookup(kind="cleaners_for_job", user_id=user.pk, job_id=job.pk, cleaner_id=None, limit=10, mode="")
    req = RecommendationRequest.objects.create(
        kind="cleaners_for_job", requested_by=user, job=job, limit=10, cache_key=found.token
    )
    RecommendationRequest.objects.filter(pk=req.pk).update(
        created_at=timezone.now() - timedelta(hours=waited_hours)
    )  # a request that sat in the queue

    status = runner.recommendation_request_run(request_id=str(req.pk), engine=RecommendationEngine(mode="rule_based"))

    assert status == "succeeded"
    assert (
        cache_lookup(kind="cleaners_for_job", user_id=user.pk, job_id=job.pk, cleaner_id=None, limit=10, mode="").answer
        is not None
    ) == cached
