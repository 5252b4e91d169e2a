"""A client retrying a batch while the first attempt is still in flight."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from app.recommendations import feedback as service
from app.recommendations.models import RecommendationFeedback
from tests.support.feedback import cleaner_recommendation, event, post

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_counts_each_event_once_when_the_same_batch_races_itself(monkeypatch) -> None:
    monkeypatch.setattr(service, "feedback_enqueue", lambda **kw: True)
    rec = cleaner_recommendation()
    batch = [event(rec, "clicked") for _ in range(200)]  # clicks may repeat: only the keys decide
    start = threading.Barrier(4)
    answers: list[dict] = []

    def send() -> None:
        try:
            start.wait()
            answers.append(post(APIClient(), rec.job.client.user, batch).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(a["accepted"] for a in answers) == [0, 0, 0, 200], answers
    assert all(a["accepted"] + a["duplicates"] == 200 for a in answers)
    assert RecommendationFeedback.objects.count() == 200
