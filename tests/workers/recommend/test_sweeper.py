"""Accepted requests whose message was lost are found again from the table and run."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from app.recommendations.models import RecommendationRequest
from app.recommendations.services import recommendation_request_create
from tests import factories as f
from workers.recommend import sweeper
from workers.recommend.runner import MAX_ATTEMPTS

Kind = RecommendationRequest.Kind
Status = RecommendationRequest.Status


def _lost_request(*, status: str = Status.QUEUED, age: timedelta, attempts: int = 0) -> RecommendationRequest:
    """A request as the API stored it, whose task message never reached a worker."""
    job = f.job()
    req = RecommendationRequest.objects.create(kind=Kind.CLEANERS_FOR_JOB, requested_by=job.client.user, job=job)
    then = timezone.now() - age
    RecommendationRequest.objects.filter(pk=req.pk).update(
        status=status, created_at=then, started_at=then if status == Status.RUNNING else None, attempts=attempts
    )
    return req


@pytest.fixture
def sent(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(sweeper, "task_send", lambda name, **options: calls.append((name, options)))
    return calls


@pytest.mark.django_db
class TestRequestsSweep:
    def test_it_re_enqueues_a_request_queued_too_long_under_its_own_id(self, sent) -> None:
        req = _lost_request(age=timedelta(minutes=2))
        fresh = _lost_request(age=timedelta(seconds=1))

        assert sweeper.requests_sweep() == {"requeued": 1, "failed_out_of_attempts": 0, "failed_expired": 0}
        assert [(options["args"], options["task_id"]) for _, options in sent] == [([str(req.pk)], str(req.pk))]
        assert str(fresh.pk) not in {options["task_id"] for _, options in sent}

    def test_it_re_enqueues_a_request_running_past_its_deadline_with_attempts_left(self, sent) -> None:
        stuck = _lost_request(status=Status.RUNNING, age=timedelta(minutes=5), attempts=1)
        _lost_request(status=Status.RUNNING, age=timedelta(seconds=10), attempts=1)  # still computing

        assert sweeper.requests_sweep()["requeued"] == 1
        assert sent[0][1]["task_id"] == str(stuck.pk)

    def test_it_fails_a_stuck_request_out_of_attempts_with_a_reason(self, sent) -> None:
        req = _lost_request(status=Status.RUNNING, age=timedelta(minutes=5), attempts=MAX_ATTEMPTS)

        assert sweeper.requests_sweep()["failed_out_of_attempts"] == 1
        req.refresh_from_db()
        assert req.status == Status.FAILED and req.error == sweeper.STUCK_ERROR and req.finished_at is not None
        assert sent == []

    def test_it_fails_a_request_queued_longer_than_results_are_kept(self, sent, settings) -> None:
        req = _lost_request(age=timedelta(seconds=settings.RECOMMENDATION_REQUEST_TTL + 60))

        assert sweeper.requests_sweep()["failed_expired"] == 1
        req.refresh_from_db()
        assert req.status == Status.FAILED and req.error == sweeper.EXPIRED_ERROR
        assert sent == []

    def test_it_leaves_finished_requests_alone(self, sent) -> None:
        for status in (Status.SUCCEEDED, Status.FAILED):
            _lost_request(status=status, age=timedelta(hours=2))

        assert sweeper.requests_sweep() == {"requeued": 0, "failed_out_of_attempts": 0, "failed_expired": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_request_whose_message_was_lost_is_answered_after_the_sweep(celery_worker, monkeypatch) -> None:
    job = f.job()
    for _ in range(3):
        f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    monkeypatch.setattr("app.recommendations.services._enqueue", lambda req: None)  # the message is lost
    req = recommendation_request_create(user=job.client.user, kind=Kind.CLEANERS_FOR_JOB, job=job, limit=3)
    RecommendationRequest.objects.filter(pk=req.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    assert sweeper.requests_sweep()["requeued"] == 1  # through the real broker to the real worker

    deadline = time.monotonic() + 20
    while (status := RecommendationRequest.objects.get(pk=req.pk).status) != Status.SUCCEEDED:
        assert status != Status.FAILED and time.monotonic() < deadline, status
        time.sleep(0.05)
