"""The worker's side in-process: applying events once, their effects, the sweeper, the schedule."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from app.recommendations import feedback as service
from app.recommendations.models import CleanerRecommendation, CleanerScore, JobRecommendation, RecommendationFeedback
from tests.support.feedback import cleaner_recommendation, job_recommendation
from workers import feedback as worker_feedback
from workers import names

pytestmark = pytest.mark.django_db


def _stored(rec: CleanerRecommendation | JobRecommendation, event: str = "viewed") -> RecommendationFeedback:
    is_job = isinstance(rec, JobRecommendation)
    user = rec.cleaner.user if is_job else rec.job.client.user
    return RecommendationFeedback.objects.create(
        user=user,
        idempotency_key=uuid.uuid4().hex,
        event=event,
        occurred_at=timezone.now(),
        job_recommendation=rec if is_job else None,
        cleaner_recommendation=None if is_job else rec,
        job_id=rec.job_id,
        cleaner_id=rec.cleaner_id,
    )


def _score(rec: CleanerRecommendation | JobRecommendation) -> CleanerScore | None:
    return CleanerScore.objects.filter(cleaner_id=rec.cleaner_id).first()


class TestFeedbackApply:
    def test_it_applies_each_event_once_however_often_it_is_delivered(self) -> None:
        rec = cleaner_recommendation()
        ids = [_stored(rec).pk for _ in range(3)] + [_stored(rec, "hired").pk]

        assert worker_feedback.feedback_apply(ids=ids) == 4
        assert worker_feedback.feedback_apply(ids=ids) == 0
        assert worker_feedback.feedback_apply(ids=ids[:2]) == 0

        score = _score(rec)
        assert (score.times_viewed, score.times_hired) == (3, 1)
        assert not RecommendationFeedback.objects.filter(applied_at__isnull=True).exists()

    def test_it_sets_a_client_s_flags_and_counts_views_and_hires(self) -> None:
        viewed, hired, clicked = cleaner_recommendation(), cleaner_recommendation(), cleaner_recommendation()
        rows = [_stored(viewed), _stored(hired, "hired"), _stored(clicked, "clicked"), _stored(clicked, "dismissed")]

        worker_feedback.feedback_apply(ids=[r.pk for r in rows])

        for rec in (viewed, hired, clicked):
            rec.refresh_from_db()
        assert (viewed.was_viewed, viewed.was_hired) == (True, False)
        assert (hired.was_viewed, hired.was_hired) == (False, True)
        assert (clicked.was_viewed, clicked.was_hired) == (False, False)
        assert (_score(viewed).times_viewed, _score(viewed).times_hired) == (1, 0)
        assert (_score(hired).times_viewed, _score(hired).times_hired) == (0, 1)
        assert _score(clicked) is None  # clicks and dismissals are only stored

    def test_it_sets_a_cleaner_s_flags_and_counts_hires_only(self) -> None:
        rec, hired = job_recommendation(), job_recommendation()
        rows = [_stored(rec), _stored(rec, "bid_placed"), _stored(rec, "bid_accepted"), _stored(hired, "hired")]

        worker_feedback.feedback_apply(ids=[r.pk for r in rows])

        rec.refresh_from_db()
        hired.refresh_from_db()
        assert (rec.was_viewed, rec.was_bid_placed, rec.was_bid_accepted) == (True, True, True)
        assert (hired.was_viewed, hired.was_bid_placed, hired.was_bid_accepted) == (False, False, True)
        # A cleaner looking at a job is not a client viewing the cleaner; a bid accepted is
        # counted when reported as `hired`, so one hire reported both ways counts once.
        assert _score(rec) is None
        assert (_score(hired).times_viewed, _score(hired).times_hired) == (0, 1)

    def test_it_starts_a_missing_cleaner_score_at_the_scorer_s_priors(self) -> None:
        from app.recommendations.cleaner_scores import PRIOR_RELIABILITY
        from workers.recommend.candidates import _DEFAULT_QUALITY

        rec = cleaner_recommendation()
        worker_feedback.feedback_apply(ids=[_stored(rec).pk])

        score = _score(rec)
        assert score.quality == pytest.approx(_DEFAULT_QUALITY)
        assert score.reliability == PRIOR_RELIABILITY

    def test_it_adds_to_an_existing_cleaner_score(self) -> None:
        rec = cleaner_recommendation()
        CleanerScore.objects.create(cleaner_id=rec.cleaner_id, times_viewed=5, times_hired=2, quality=0.8)

        worker_feedback.feedback_apply(ids=[_stored(rec).pk, _stored(rec, "hired").pk])

        score = _score(rec)
        assert (score.times_viewed, score.times_hired, score.quality) == (6, 3, 0.8)

    def test_it_leaves_an_event_unapplied_when_its_effects_fail(self, monkeypatch) -> None:
        rec = cleaner_recommendation()
        row = _stored(rec)

        def broken(*args) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(worker_feedback, "_cleaner_score_increment", broken)
        with pytest.raises(RuntimeError):
            worker_feedback.feedback_apply(ids=[row.pk])

        row.refresh_from_db()
        rec.refresh_from_db()
        assert row.applied_at is None  # claimed and flagged in one transaction: both rolled back
        assert rec.was_viewed is False

    @pytest.mark.django_db(transaction=True)  # each event's atomic block a real transaction
    def test_an_event_whose_effects_fail_does_not_hold_back_the_rest_of_its_batch(self, monkeypatch) -> None:
        poison, good = cleaner_recommendation(), cleaner_recommendation()
        rows = [_stored(poison), _stored(good)]  # the failing one first
        real = worker_feedback._cleaner_score_increment

        def broken_for_poison(cleaner_id: int, counter: str) -> None:
            if cleaner_id == poison.cleaner_id:
                # A real error from the database, mid-transaction, on SQLite and PostgreSQL alike (SQLite
                # answers NULL to a division by zero): a NOT NULL constraint.
                with connection.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {CleanerScore._meta.db_table} (cleaner_id) VALUES (NULL)")
            real(cleaner_id, counter)

        monkeypatch.setattr(worker_feedback, "_cleaner_score_increment", broken_for_poison)
        with pytest.raises(DatabaseError):  # the task still fails, visibly
            worker_feedback.feedback_apply(ids=[r.pk for r in rows])

        for r in rows:
            r.refresh_from_db()
        assert rows[0].applied_at is None  # rolled back, left for the sweeper
        assert rows[1].applied_at is not None
        good.refresh_from_db()
        assert good.was_viewed is True

    @pytest.mark.parametrize("error", [OperationalError, InterfaceError])
    def test_an_unreachable_database_stops_the_batch_at_once(self, monkeypatch, error) -> None:
        rows = [_stored(cleaner_recommendation()) for _ in range(3)]
        calls = []

        def unreachable(row) -> None:
            calls.append(row.pk)
            raise error("the database went away")

        monkeypatch.setattr(worker_feedback, "_apply_effects", unreachable)
        with pytest.raises(error):
            worker_feedback.feedback_apply(ids=[r.pk for r in rows])

        assert calls == [rows[0].pk]  # not one failed attempt per event

    def test_it_marks_an_event_applied_when_its_recommendation_is_gone(self) -> None:
        rec = cleaner_recommendation()
        row = _stored(rec)
        rec.delete()

        assert worker_feedback.feedback_apply(ids=[row.pk]) == 1
        row.refresh_from_db()
        assert row.applied_at is not None


class TestFeedbackSweep:
    @pytest.fixture
    def enqueued(self, monkeypatch) -> list[dict]:
        calls: list[dict] = []
        monkeypatch.setattr(service, "feedback_enqueue", lambda **kw: calls.append(kw) or True)
        return calls

    def test_it_re_enqueues_only_unapplied_events_older_than_30_seconds(self, enqueued) -> None:
        rec = cleaner_recommendation()
        old, applied, _fresh = _stored(rec), _stored(rec), _stored(rec)
        long_ago = timezone.now() - timedelta(seconds=31)
        RecommendationFeedback.objects.filter(pk__in=[old.pk, applied.pk]).update(received_at=long_ago)
        RecommendationFeedback.objects.filter(pk=applied.pk).update(applied_at=timezone.now())

        assert worker_feedback.feedback_sweep() == 1
        assert enqueued == [{"ids": [old.pk], "queue": None}]

    def test_it_re_enqueues_in_batches_of_at_most_1000(self, enqueued) -> None:
        rec = cleaner_recommendation()
        user = rec.job.client.user
        RecommendationFeedback.objects.bulk_create(
            [
                RecommendationFeedback(
                    user=user,
                    idempotency_key=str(i),
                    event="viewed",
                    occurred_at=timezone.now(),
                    cleaner_recommendation=rec,
                    job_id=rec.job_id,
                    cleaner_id=rec.cleaner_id,
                )
                for i in range(1001)
            ]
        )

        assert worker_feedback.feedback_sweep(older_than=timedelta(0)) == 1001
        assert [len(call["ids"]) for call in enqueued] == [1000, 1]

    def test_it_stops_when_the_broker_is_down(self, monkeypatch) -> None:
        monkeypatch.setattr(service, "feedback_enqueue", lambda **kw: False)
        _stored(cleaner_recommendation())

        assert worker_feedback.feedback_sweep(older_than=timedelta(0)) == 0

    def test_it_is_scheduled_every_minute_once(self) -> None:
        call_command("setup_schedules", stdout=io.StringIO())
        call_command("setup_schedules", stdout=io.StringIO())

        task = PeriodicTask.objects.get(task=names.FEEDBACK_SWEEP)
        assert (task.queue, task.enabled, task.crontab.minute, task.crontab.hour) == ("feedback", True, "*", "*")


class TestDeadLetters:
    def _poisoned(self, monkeypatch) -> RecommendationFeedback:
        row = _stored(cleaner_recommendation())

        def broken(*args) -> None:
            raise RuntimeError("the effects of this event cannot be applied")

        monkeypatch.setattr(worker_feedback, "_cleaner_score_increment", broken)
        return row

    def test_it_sets_an_event_aside_after_it_failed_enough_times(self, monkeypatch) -> None:
        row = self._poisoned(monkeypatch)
        for attempt in range(1, service.MAX_APPLY_FAILURES + 1):
            with pytest.raises(RuntimeError):
                worker_feedback.feedback_apply(ids=[row.pk])
            row.refresh_from_db()
            assert row.apply_failures == attempt and "cannot be applied" in row.last_error
            assert (row.dead_at is not None) == (attempt == service.MAX_APPLY_FAILURES)
        assert row.applied_at is None

    def test_the_sweeper_skips_an_event_set_aside(self, monkeypatch) -> None:
        row = self._poisoned(monkeypatch)
        RecommendationFeedback.objects.filter(pk=row.pk).update(dead_at=timezone.now(), apply_failures=5)
        sent = []
        monkeypatch.setattr(service, "feedback_enqueue", lambda **kw: sent.append(kw) or True)

        assert worker_feedback.feedback_sweep(older_than=timedelta(0)) == 0
        assert sent == []

    def test_the_operator_page_lists_what_was_set_aside(self, monkeypatch) -> None:
        from app.ops.selectors import feedback_dead_letters

        row = self._poisoned(monkeypatch)
        RecommendationFeedback.objects.filter(pk=row.pk).update(
            dead_at=timezone.now(), apply_failures=5, last_error="RuntimeError: boom"
        )
        found = feedback_dead_letters()
        assert found["count"] == 1 and found["latest"][0]["pk"] == row.pk
        assert found["latest"][0]["last_error"] == "RuntimeError: boom"
