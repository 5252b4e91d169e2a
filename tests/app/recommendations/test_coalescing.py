"""Identical questions in flight share one computation; a changed question starts its own."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from app.recommendations import services
from app.recommendations.cache import inflight_release
from app.recommendations.models import RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """The tasks the web sends, kept here: no worker answers, so every request stays in flight."""
    sent: list = []
    monkeypatch.setattr(services, "_enqueue", sent.append)
    return sent


def _ask(client: APIClient, job_id: int, **body) -> str:
    resp = client.post(f"/api/v1/jobs/{job_id}/recommendations/", body or {"limit": 5}, format="json")
    assert resp.status_code == 202, resp.content
    return resp.json()["id"]


@pytest.mark.django_db
def test_repeated_questions_in_flight_share_one_request(api_client, enqueued) -> None:
    job = f.job()
    authenticate(api_client, job.client.user)

    ids = {_ask(api_client, job.pk) for _ in range(50)}

    assert len(ids) == 1
    assert RecommendationRequest.objects.filter(job=job).count() == 1


@pytest.mark.django_db
def test_a_different_question_or_a_callback_gets_its_own_request(api_client, enqueued, settings) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    job = f.job()
    authenticate(api_client, job.client.user)
    first = _ask(api_client, job.pk, limit=5)

    assert _ask(api_client, job.pk, limit=6) != first
    assert _ask(api_client, job.pk, limit=5, callback_url="http://127.0.0.1:9/hook") != first
    job.save()  # a change to the job: the old computation answers the old question
    assert _ask(api_client, job.pk, limit=5) != first


@pytest.mark.django_db
def test_a_finished_request_is_not_joined(api_client, enqueued) -> None:
    job = f.job()
    authenticate(api_client, job.client.user)
    first = _ask(api_client, job.pk)
    RecommendationRequest.objects.filter(pk=first).update(status=RecommendationRequest.Status.FAILED)

    second = _ask(api_client, job.pk)

    assert second != first
    req = RecommendationRequest.objects.get(pk=second)
    inflight_release(req.cache_key, second)  # as the runner does when it is done
    assert _ask(api_client, job.pk) not in (first, second)


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_questions_start_one_computation(enqueued) -> None:
    job = f.job()
    user = job.client.user
    ids, errors = [], []

    def ask() -> None:
        try:
            ids.append(_ask(authenticate(APIClient(), user), job.pk))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert not errors, errors
    assert len(set(ids)) == 1 and len(enqueued) == 1
    assert RecommendationRequest.objects.filter(job=job).count() == 1
