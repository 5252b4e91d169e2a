"""POST /api/v1/feedback/ without a worker: validation, authorization, duplicates, 503."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.db import OperationalError
from django.utils import timezone

from app.recommendations import feedback as service
from app.recommendations.models import RecommendationFeedback
from tests import factories as f
from tests.factories.integrations import as_key, integration_key
from tests.support.auth import authenticate
from tests.support.feedback import URL, cleaner_recommendation, event, job_recommendation, post
from tests.support.net import free_port

pytestmark = pytest.mark.django_db

NOT_YOURS = "No such cleaner recommendation, or it was not made for you."


@pytest.fixture
def rec():
    """A cleaner recommended for a client's job; the client is `rec.job.client.user`."""
    return cleaner_recommendation()


@pytest.fixture
def enqueued(monkeypatch) -> list[dict]:
    """Records what would be enqueued instead of sending it."""
    calls: list[dict] = []
    monkeypatch.setattr(service, "feedback_enqueue", lambda **kw: calls.append(kw) or True)
    return calls


def _del(key: str, ev: dict, rec) -> None:
    del ev[key]


def _set(values: dict, ev: dict, rec) -> None:
    ev.update(values)


def _someone_elses(ev: dict, rec) -> None:
    ev["recommendation_id"] = cleaner_recommendation().pk


def _pair_with_id(ev: dict, rec) -> None:
    ev.update(job_id=rec.job_id, cleaner_id=rec.cleaner_id)


def _other_pair(ev: dict, rec) -> None:
    other = cleaner_recommendation()
    del ev["recommendation_id"]
    ev.update(job_id=other.job_id, cleaner_id=other.cleaner_id)


MALFORMED = {
    "unknown event": (partial(_set, {"event": "liked"}), "event"),
    "missing idempotency key": (partial(_del, "idempotency_key"), "idempotency_key"),
    "blank idempotency key": (partial(_set, {"idempotency_key": ""}), "idempotency_key"),
    "idempotency key over 128 chars": (partial(_set, {"idempotency_key": "k" * 129}), "idempotency_key"),
    "bad datetime": (partial(_set, {"occurred_at": "yesterday at noon"}), "occurred_at"),
    "missing datetime": (partial(_del, "occurred_at"), "occurred_at"),
    # Computed when the test runs, not when the table is read: the suite takes longer than 10 minutes.
    "datetime in the future": (
        lambda ev, rec: ev.update(occurred_at=(timezone.now() + timedelta(minutes=10)).isoformat()),
        "occurred_at",
    ),
    "rated without value": (partial(_set, {"event": "rated"}), "value"),
    "rating out of range": (partial(_set, {"event": "rated", "value": 11}), "value"),
    "value on a non-rated event": (partial(_set, {"value": 3}), "value"),
    "missing recommendation type": (partial(_del, "recommendation_type"), "recommendation_type"),
    "unknown recommendation type": (partial(_set, {"recommendation_type": "bid"}), "recommendation_type"),
    "no reference at all": (partial(_del, "recommendation_id"), "recommendation_id"),
    "both reference forms": (_pair_with_id, "recommendation_id"),
    "null recommendation id": (partial(_set, {"recommendation_id": None}), "recommendation_id"),
    "bid event on a cleaner recommendation": (partial(_set, {"event": "bid_placed"}), "event"),
    "unknown recommendation": (partial(_set, {"recommendation_id": 10**9}), "recommendation_id"),
    "someone else's recommendation": (_someone_elses, "recommendation_id"),
    "someone else's pair": (_other_pair, "job_id"),
    "a cleaner's job recommendation sent by a client": (
        lambda ev, rec: ev.update(recommendation_type="job", recommendation_id=job_recommendation().pk),
        "recommendation_id",
    ),
}


class TestFeedbackValidation:
    @pytest.mark.parametrize("spoil,field", MALFORMED.values(), ids=MALFORMED.keys())
    def test_it_rejects_the_whole_batch_naming_the_field(self, api_client, rec, spoil, field) -> None:
        events = [event(rec), event(rec), event(rec)]
        spoil(events[1], rec)

        resp = post(api_client, rec.job.client.user, events)

        assert resp.status_code == 400, resp.content
        assert resp["Content-Type"] == "application/problem+json"
        body = resp.json()
        assert body["status"] == 400
        assert [e["field"] for e in body["errors"]] == [f"events[1].{field}"], body
        assert body["detail"].startswith(f"events[1].{field}: ")
        assert RecommendationFeedback.objects.count() == 0

    def test_it_rejects_a_pair_missing_its_other_half(self, api_client, rec) -> None:
        ev = event(rec)
        del ev["recommendation_id"]
        ev["job_id"] = rec.job_id

        resp = post(api_client, rec.job.client.user, [ev])

        assert resp.status_code == 400
        assert [e["field"] for e in resp.json()["errors"]] == ["events[0].cleaner_id"]

    def test_it_answers_unknown_and_foreign_ids_alike(self, api_client, rec) -> None:
        foreign = cleaner_recommendation()
        resp = post(api_client, rec.job.client.user, [event(rec, recommendation_id=10**9), event(foreign)])

        assert resp.status_code == 400
        assert resp.json()["errors"] == [
            {"field": "events[0].recommendation_id", "message": NOT_YOURS},
            {"field": "events[1].recommendation_id", "message": NOT_YOURS},
        ]

    def test_it_rejects_more_than_1000_events_and_stores_nothing(self, api_client, rec) -> None:
        resp = post(api_client, rec.job.client.user, [event(rec) for _ in range(1001)])

        assert resp.status_code == 400
        assert resp.json()["errors"] == [
            {"field": "events", "message": "Ensure this field has no more than 1000 elements."}
        ]
        assert RecommendationFeedback.objects.count() == 0

    def test_it_answers_413_not_500_to_a_body_over_django_s_size_limit(self, api_client, rec) -> None:
        padded = [event(rec, padding="x" * 3000) for _ in range(1000)]  # ~3 MB > DATA_UPLOAD_MAX_MEMORY_SIZE

        resp = post(api_client, rec.job.client.user, padded)

        assert resp.status_code == 413
        assert resp["Content-Type"] == "application/problem+json"
        assert RecommendationFeedback.objects.count() == 0

    @pytest.mark.parametrize("body", [{}, {"events": []}, {"events": {"a": 1}}, {"events": "x"}])
    def test_it_rejects_a_body_without_a_list_of_events(self, api_client, rec, body) -> None:
        authenticate(api_client, rec.job.client.user)
        resp = api_client.post(URL, body, format="json")

        assert resp.status_code == 400
        assert resp.json()["errors"][0]["field"] == "events"

    def test_it_rejects_malformed_json(self, api_client, rec) -> None:
        authenticate(api_client, rec.job.client.user)
        resp = api_client.post(URL, "{not json", content_type="application/json")

        assert resp.status_code == 400
        assert resp["Content-Type"] == "application/problem+json"

    def test_it_requires_a_token(self, api_client) -> None:
        resp = api_client.post(URL, {"events": []}, format="json")

        assert resp.status_code == 401
        assert resp.json()["status"] == 401


class TestFeedbackAccepted:
    def test_it_stores_a_batch_and_enqueues_one_task_after_commit(
        self,
        api_client,
        rec,
        enqueued,
        django_capture_on_commit_callbacks,
    ) -> None:
        events = [event(rec, "viewed"), event(rec, "clicked"), event(rec, "rated", value=8)]

        with django_capture_on_commit_callbacks(execute=True):
            resp = post(api_client, rec.job.client.user, events)

        assert resp.status_code == 202, resp.content
        assert resp.json() == {"accepted": 3, "duplicates": 0}
        rows = list(RecommendationFeedback.objects.order_by("pk"))
        assert [(r.event, r.value, r.applied_at) for r in rows] == [
            ("viewed", None, None),
            ("clicked", None, None),
            ("rated", 8.0, None),
        ]
        assert {(r.cleaner_recommendation_id, r.job_recommendation_id, r.job_id, r.cleaner_id) for r in rows} == {
            (rec.pk, None, rec.job_id, rec.cleaner_id)
        }
        assert enqueued == [{"ids": [r.pk for r in rows]}]

    def test_it_takes_1000_events_with_the_longest_keys_in_one_batch(
        self,
        api_client,
        rec,
        enqueued,
        django_capture_on_commit_callbacks,
    ) -> None:
        events = [event(rec, "clicked", key=f"{i:04d}".ljust(128, "k")) for i in range(1000)]  # clicks may repeat

        with django_capture_on_commit_callbacks(execute=True):
            resp = post(api_client, rec.job.client.user, events)

        assert resp.status_code == 202, resp.content
        assert resp.json() == {"accepted": 1000, "duplicates": 0}
        assert [len(call["ids"]) for call in enqueued] == [1000]

    def test_it_counts_duplicates_within_and_across_batches(
        self,
        api_client,
        rec,
        enqueued,
        django_capture_on_commit_callbacks,
    ) -> None:
        user = rec.job.client.user
        with django_capture_on_commit_callbacks(execute=True):
            first = post(
                api_client,
                user,
                [event(rec, "clicked", key="a"), event(rec, "dismissed", key="a"), event(rec, "clicked", key="b")],
            )
        with django_capture_on_commit_callbacks(execute=True):
            again = post(api_client, user, [event(rec, "clicked", key="b"), event(rec, "clicked", key="a")])

        assert first.json() == {"accepted": 2, "duplicates": 1}
        assert again.status_code == 202
        assert again.json() == {"accepted": 0, "duplicates": 2}
        # The first occurrence wins; the all-duplicate batch enqueues nothing.
        assert sorted(RecommendationFeedback.objects.values_list("idempotency_key", "event")) == [
            ("a", "clicked"),
            ("b", "clicked"),
        ]
        assert len(enqueued) == 1

    def test_it_keys_idempotency_per_user(self, api_client, rec) -> None:
        other = cleaner_recommendation()

        assert post(api_client, rec.job.client.user, [event(rec, key="same")]).json()["accepted"] == 1
        assert post(api_client, other.job.client.user, [event(other, key="same")]).json()["accepted"] == 1

    def test_it_resolves_a_job_and_cleaner_pair_to_their_latest_recommendation(self, api_client, rec) -> None:
        latest = cleaner_recommendation(job=rec.job, cleaner=rec.cleaner)
        ev = event(rec, "hired")
        del ev["recommendation_id"]
        ev.update(job_id=rec.job_id, cleaner_id=rec.cleaner_id)

        resp = post(api_client, rec.job.client.user, [ev])

        assert resp.status_code == 202, resp.content
        assert RecommendationFeedback.objects.get().cleaner_recommendation_id == latest.pk

    def test_it_lets_a_cleaner_report_on_their_job_recommendations_only(self, api_client, rec) -> None:
        mine = job_recommendation()
        user = mine.cleaner.user

        ok = post(api_client, user, [event(mine, "bid_placed"), event(mine, "bid_accepted")])
        refused = post(api_client, user, [event(rec)])  # a cleaner recommendation: a client's

        assert ok.status_code == 202, ok.content
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["field"] == "events[0].recommendation_id"
        assert RecommendationFeedback.objects.filter(user=user).count() == 2

    def test_it_lets_an_operator_report_on_any_recommendation(self, api_client, rec) -> None:
        resp = post(api_client, f.operator(), [event(rec), event(job_recommendation(), "bid_placed")])

        assert resp.status_code == 202, resp.content
        assert resp.json() == {"accepted": 2, "duplicates": 0}

    def test_it_lets_an_integration_key_report_on_any_recommendation(self, api_client, rec) -> None:
        events = [event(rec), event(job_recommendation(), "bid_placed")]

        resp = as_key(api_client, integration_key()[1]).post(URL, {"events": events}, format="json")

        assert resp.status_code == 202, resp.content
        assert resp.json() == {"accepted": 2, "duplicates": 0}
        assert RecommendationFeedback.objects.filter(user__role="integration").count() == 2

    def test_it_answers_503_and_stores_nothing_when_the_database_fails(
        self,
        api_client,
        rec,
        enqueued,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ) -> None:
        def unavailable(*args, **kwargs):
            raise OperationalError("could not connect to server")

        monkeypatch.setattr(RecommendationFeedback.objects, "bulk_create", unavailable)

        with django_capture_on_commit_callbacks(execute=True):
            resp = post(api_client, rec.job.client.user, [event(rec)])

        assert resp.status_code == 503
        assert resp["Content-Type"] == "application/problem+json"
        assert resp["Retry-After"] == "30"
        assert resp.json()["status"] == 503
        assert RecommendationFeedback.objects.count() == 0
        assert enqueued == []

    def test_it_still_accepts_when_the_broker_is_down(
        self,
        api_client,
        rec,
        monkeypatch,
        caplog,
        django_capture_on_commit_callbacks,
    ) -> None:
        from celery import Celery

        # A real broker connection failure, from kombu, to a port where nothing listens.
        monkeypatch.setattr("workers.celery.app", Celery("down", broker=f"redis://127.0.0.1:{free_port()}/0"))

        with django_capture_on_commit_callbacks(execute=True):
            resp = post(api_client, rec.job.client.user, [event(rec, "clicked"), event(rec, "clicked")])

        assert resp.status_code == 202, resp.content
        assert resp.json() == {"accepted": 2, "duplicates": 0}
        assert RecommendationFeedback.objects.filter(applied_at__isnull=True).count() == 2
        assert "could not enqueue 2 feedback events" in caplog.text


@pytest.mark.django_db
class TestFeedbackCannotBeInflated:
    def _client(self, rec) -> object:
        return rec.job.client.user

    def test_a_view_counts_once_per_user_and_recommendation_within_a_day(self, api_client, enqueued) -> None:
        rec = cleaner_recommendation()
        resp = post(api_client, self._client(rec), [event(rec) for _ in range(50)])
        assert resp.status_code == 202 and resp.json() == {"accepted": 1, "duplicates": 49}
        again = post(api_client, self._client(rec), [event(rec)])
        assert again.json() == {"accepted": 0, "duplicates": 1}
        RecommendationFeedback.objects.update(received_at=timezone.now() - timedelta(hours=25))
        assert post(api_client, self._client(rec), [event(rec)]).json() == {"accepted": 1, "duplicates": 0}

    def test_a_hire_or_a_bid_happens_once_per_recommendation(self, api_client, enqueued) -> None:
        rec = cleaner_recommendation()
        assert post(api_client, self._client(rec), [event(rec, "hired"), event(rec, "hired")]).json() == {
            "accepted": 1,
            "duplicates": 1,
        }
        assert post(api_client, self._client(rec), [event(rec, "hired")]).json()["accepted"] == 0
        job_rec = job_recommendation()
        cleaner = job_rec.cleaner.user
        assert post(api_client, cleaner, [event(job_rec, "bid_placed") for _ in range(3)]).json()["accepted"] == 1
        assert RecommendationFeedback.objects.filter(event="bid_placed").count() == 1

    def test_clicks_and_ratings_may_repeat(self, api_client, enqueued) -> None:
        rec = cleaner_recommendation()
        assert post(api_client, self._client(rec), [event(rec, "clicked") for _ in range(3)]).json()["accepted"] == 3

    def test_occurred_at_must_say_its_timezone(self, api_client, enqueued) -> None:
        rec = cleaner_recommendation()
        naive = {**event(rec), "occurred_at": timezone.now().replace(tzinfo=None).isoformat()}
        resp = post(api_client, self._client(rec), [naive])
        assert resp.status_code == 400
        assert resp.json()["errors"][0]["field"] == "events[0].occurred_at"
        assert "timezone" in resp.json()["errors"][0]["message"]

    def test_occurred_at_must_not_be_before_the_recommendation(self, api_client, enqueued) -> None:
        rec = cleaner_recommendation()
        early = event(rec, occurred_at=rec.created_at - timedelta(hours=1))
        resp = post(api_client, self._client(rec), [early])
        assert resp.status_code == 400
        assert resp.json()["errors"][0]["field"] == "events[0].occurred_at"
        assert "before the recommendation was made" in resp.json()["errors"][0]["message"]
        assert post(api_client, self._client(rec), [event(rec, occurred_at=rec.created_at)]).status_code == 202
