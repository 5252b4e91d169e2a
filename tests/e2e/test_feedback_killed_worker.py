"""A 202 is a promise: a worker SIGKILLed mid-batch loses nothing and applies nothing twice.

Our own worker consumes a private queue, so the session worker cannot take the batch, and
holds each event's transaction open for FEEDBACK_APPLY_DELAY_MS so the kill lands inside one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

import pytest

from app.recommendations import feedback as service
from app.recommendations.models import CleanerRecommendation, CleanerScore, RecommendationFeedback
from tests.support.feedback import cleaner_recommendation, event, post
from tests.support.processes import PrivateQueueWorker
from tests.support.waiting import wait_until
from workers import feedback as worker_feedback

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

VIEWS, HIRES = 30, 10


@pytest.fixture
def private_queue() -> str:
    return f"feedback-test-{uuid.uuid4().hex[:12]}"


def _applied() -> int:
    return RecommendationFeedback.objects.filter(applied_at__isnull=False).count()


def _counters(cleaner_id: int) -> tuple[int, int]:
    score = CleanerScore.objects.filter(cleaner_id=cleaner_id).first()
    return (score.times_viewed, score.times_hired) if score else (0, 0)


def _applied_counters() -> tuple[int, int]:
    applied = RecommendationFeedback.objects.filter(applied_at__isnull=False)
    return applied.filter(event="viewed").count(), applied.filter(event="hired").count()


def test_it_applies_every_event_exactly_once_across_a_killed_worker(
    worker_env,
    api_client,
    monkeypatch,
    private_queue,
) -> None:
    monkeypatch.setattr(service, "feedback_enqueue", partial(service.feedback_enqueue, queue=private_queue))
    rec = cleaner_recommendation()
    # A view counts once per recommendation and a hire happens once: one recommendation each,
    # all of the same cleaner for the same job, so the cleaner's counters add them all up.
    views = [cleaner_recommendation(job=rec.job, cleaner=rec.cleaner) for _ in range(VIEWS)]
    hires = [cleaner_recommendation(job=rec.job, cleaner=rec.cleaner) for _ in range(HIRES)]
    slow = PrivateQueueWorker({**worker_env, "FEEDBACK_APPLY_DELAY_MS": "100"}, private_queue)
    slow.start()
    try:
        resp = post(
            api_client,
            rec.job.client.user,
            [event(r) for r in views] + [event(r, "hired") for r in hires],
        )
        assert resp.json() == {"accepted": VIEWS + HIRES, "duplicates": 0}
        wait_until(lambda: _applied() >= 5, what="the slow worker applying a few events")
    finally:
        slow.kill()

    applied_before = _applied()
    assert 0 < applied_before < VIEWS + HIRES, "the kill should land mid-batch; raise the delay if it did not"
    # Whatever the kill interrupted rolled back: the counters are exactly the events marked applied.
    assert _counters(rec.cleaner_id) == _applied_counters()

    fresh = PrivateQueueWorker(worker_env, private_queue)
    fresh.start()
    try:
        # The killed worker's message is stuck unacknowledged (for the visibility timeout); the
        # sweeper is what brings the rest back.
        assert (
            worker_feedback.feedback_sweep(older_than=timedelta(0), queue=private_queue)
            == VIEWS + HIRES - applied_before
        )
        wait_until(lambda: _applied() == VIEWS + HIRES, what="every event applied")
        assert worker_feedback.feedback_sweep(older_than=timedelta(0), queue=private_queue) == 0
    finally:
        fresh.stop()

    assert _counters(rec.cleaner_id) == (VIEWS, HIRES)
    assert all(r.was_viewed for r in CleanerRecommendation.objects.filter(pk__in=[v.pk for v in views]))
    assert all(r.was_hired for r in CleanerRecommendation.objects.filter(pk__in=[h.pk for h in hires]))
