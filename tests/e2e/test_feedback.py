"""Feedback through the API and a real worker: effects, duplicates, a broker outage."""

from __future__ import annotations

import pytest
from celery import Celery

from app.recommendations.models import CleanerScore, RecommendationFeedback
from tests.support.feedback import cleaner_recommendation, event, job_recommendation, post
from tests.support.net import free_port
from tests.support.waiting import wait_until
from workers import names

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _all_applied() -> bool:
    return not RecommendationFeedback.objects.filter(applied_at__isnull=True).exists()


def _feedback_queue_drained() -> None:
    """The session worker takes one task at a time: a ping queued behind our tasks answers after them."""
    from workers.celery import app

    app.send_task(names.PING, queue="feedback").get(timeout=30)


def _counters(cleaner_id: int) -> tuple[int, int]:
    score = CleanerScore.objects.get(cleaner_id=cleaner_id)
    return score.times_viewed, score.times_hired


def test_it_applies_flags_and_counters_end_to_end(celery_worker, api_client) -> None:
    rec = cleaner_recommendation()
    bid_on = job_recommendation()
    hired_for = job_recommendation(cleaner=bid_on.cleaner)

    client_resp = post(
        api_client,
        rec.job.client.user,
        [
            event(rec, "viewed"),
            event(rec, "clicked"),
            event(rec, "hired"),
            event(rec, "rated", value=9),
        ],
    )
    cleaner_resp = post(
        api_client,
        bid_on.cleaner.user,
        [
            event(bid_on, "viewed"),
            event(bid_on, "bid_placed"),
            event(bid_on, "bid_accepted"),
            event(hired_for, "dismissed"),
            event(hired_for, "hired"),
        ],
    )

    assert (client_resp.status_code, cleaner_resp.status_code) == (202, 202)
    wait_until(_all_applied, what="all feedback applied")
    for r in (rec, bid_on, hired_for):
        r.refresh_from_db()
    assert (rec.was_viewed, rec.was_hired) == (True, True)
    assert (bid_on.was_viewed, bid_on.was_bid_placed, bid_on.was_bid_accepted) == (True, True, True)
    assert (hired_for.was_viewed, hired_for.was_bid_placed, hired_for.was_bid_accepted) == (False, False, True)
    assert _counters(rec.cleaner_id) == (1, 1)
    assert _counters(bid_on.cleaner_id) == (0, 1)
    assert RecommendationFeedback.objects.get(event="rated").value == 9


def test_it_applies_a_repeated_key_once_within_and_across_batches(celery_worker, api_client) -> None:
    rec = cleaner_recommendation()
    user = rec.job.client.user
    # Three recommendations of the same cleaner for the same job: a view counts once per recommendation.
    recs = {key: cleaner_recommendation(job=rec.job, cleaner=rec.cleaner) for key in ("k1", "k2", "k3")}

    first = post(
        api_client, user, [event(recs["k1"], key="k1"), event(recs["k1"], key="k1"), event(recs["k2"], key="k2")]
    )
    again = post(
        api_client, user, [event(recs["k2"], key="k2"), event(recs["k1"], key="k1"), event(recs["k3"], key="k3")]
    )

    assert first.json() == {"accepted": 2, "duplicates": 1}
    assert again.json() == {"accepted": 1, "duplicates": 2}
    wait_until(_all_applied, what="all feedback applied")
    _feedback_queue_drained()
    assert _counters(rec.cleaner_id) == (3, 0)
    assert RecommendationFeedback.objects.count() == 3


def test_it_accepts_during_a_broker_outage_and_the_sweeper_applies_later(
    celery_worker,
    api_client,
    monkeypatch,
    caplog,
) -> None:
    rec = cleaner_recommendation()
    # The web's broker is down (nothing listens there); the worker's is fine.
    monkeypatch.setattr("workers.celery.app", Celery("down", broker=f"redis://127.0.0.1:{free_port()}/0"))

    recs = [cleaner_recommendation(job=rec.job, cleaner=rec.cleaner) for _ in range(5)]  # a view counts once per rec
    resp = post(api_client, rec.job.client.user, [event(r) for r in recs])

    assert resp.status_code == 202, resp.content
    assert resp.json() == {"accepted": 5, "duplicates": 0}
    assert "could not enqueue 5 feedback events" in caplog.text
    monkeypatch.undo()  # the broker is back
    _feedback_queue_drained()
    assert RecommendationFeedback.objects.filter(applied_at__isnull=True).count() == 5  # no worker was told

    from workers.celery import app

    # What beat sends every minute, with 0 instead of 30 s so the test need not wait for the events to age.
    app.send_task(names.FEEDBACK_SWEEP, args=[0])
    wait_until(_all_applied, what="the swept events applied")
    _feedback_queue_drained()
    assert _counters(rec.cleaner_id) == (5, 0)
