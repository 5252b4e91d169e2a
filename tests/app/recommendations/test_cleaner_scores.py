"""A review, a finished job or an accepted bid rescores its cleaner at once; the daily refresh reconciles."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.db import connection

from app.marketplace.models import Bid, CleaningJob, Review
from app.recommendations.cleaner_scores import cleaner_scores_reconcile
from app.recommendations.models import CleanerScore
from tests import factories as f
from workers.tasks.maintenance import refresh_cleaner_scores

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a commit runs (the test's transaction never commits)."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


def score(cleaner) -> CleanerScore:
    return CleanerScore.objects.get(cleaner=cleaner)


@pytest.fixture
def assigned():
    cleaner = f.cleaner()
    job = f.job(status=CleaningJob.Status.ASSIGNED, assigned_cleaner=cleaner)
    cleaner_scores_reconcile()  # every cleaner has a row, and the prior is stored
    return cleaner, job


def test_a_review_moves_the_cleaners_quality_at_once(committed, assigned) -> None:
    cleaner, job = assigned
    before = score(cleaner).quality

    committed(Review.objects.create, job=job, cleaner=cleaner, client=job.client, rating=10)

    after = score(cleaner)
    assert (after.review_count, after.avg_rating) == (1, 10.0) and after.quality > before


def test_a_completed_or_cancelled_job_moves_the_counts_at_once(committed, assigned) -> None:
    cleaner, job = assigned
    job.status = CleaningJob.Status.COMPLETED
    committed(job.save)
    assert (score(cleaner).jobs_assigned, score(cleaner).jobs_completed) == (1, 1)

    other = f.job(status=CleaningJob.Status.ASSIGNED, assigned_cleaner=cleaner)
    other.status, other.cancelled_by_cleaner = CleaningJob.Status.CANCELLED, True
    before = score(cleaner).reliability
    committed(other.save)

    after = score(cleaner)
    assert (after.jobs_assigned, after.jobs_cancelled) == (2, 1) and after.reliability < before


def test_a_job_given_to_another_cleaner_rescores_both(committed, assigned) -> None:
    cleaner, job = assigned
    other = f.cleaner()
    job.assigned_cleaner = other
    committed(job.save)

    assert (score(cleaner).jobs_assigned, score(other).jobs_assigned) == (0, 1)


def test_an_accepted_bid_counts_as_won_at_once(committed, assigned) -> None:
    cleaner, job = assigned
    bid = committed(Bid.objects.create, job=f.job(), cleaner=cleaner, amount=Decimal("120"))
    assert (score(cleaner).bids_placed, score(cleaner).bids_won) == (1, 0)

    bid.status = Bid.Status.ACCEPTED
    committed(bid.save)
    assert score(cleaner).bids_won == 1


def test_updates_at_once_leave_no_drift(committed, assigned) -> None:
    cleaner, job = assigned
    committed(f.completed_job, cleaner, 9)
    committed(Review.objects.create, job=job, cleaner=cleaner, client=job.client, rating=4)

    assert cleaner_scores_reconcile().drifted == 0


def test_the_refresh_corrects_and_reports_a_write_no_update_saw(assigned, caplog) -> None:
    cleaner, job = assigned
    with connection.cursor() as cursor:  # raw SQL: no signal, no update at once
        cursor.execute(f"UPDATE {CleaningJob._meta.db_table} SET status = 'completed' WHERE id = %s", [job.pk])
    assert score(cleaner).jobs_completed == 0

    with caplog.at_level(logging.WARNING, logger="app.recommendations.cleaner_scores"):
        report = refresh_cleaner_scores()

    assert (report["cleaners"], report["drifted"], report["rewritten"]) == (1, 1, 1)
    assert score(cleaner).jobs_completed == 1
    assert "1 of 1 cleaners had drifted" in caplog.text
    assert refresh_cleaner_scores()["rewritten"] == 0  # idempotent: nothing left to write


def test_the_refresh_never_writes_a_count_older_than_a_review_made_while_it_counted(assigned, monkeypatch) -> None:
    from app.recommendations import cleaner_scores

    cleaner, job = assigned
    with connection.cursor() as cursor:  # a drift for the refresh to correct: it will write this cleaner
        cursor.execute(f"UPDATE {CleaningJob._meta.db_table} SET status = 'completed' WHERE id = %s", [job.pk])
    count_everyone, reviewed = cleaner_scores._scores_of, []

    def a_review_lands_after_the_count(ids, *, prior, everyone):
        rows = count_everyone(ids, prior=prior, everyone=everyone)
        if everyone and not reviewed:  # committed by someone else between the count and the write
            reviewed.append(Review.objects.create(job=job, cleaner=cleaner, client=job.client, rating=10))
        return rows

    monkeypatch.setattr(cleaner_scores, "_scores_of", a_review_lands_after_the_count)

    cleaner_scores_reconcile()

    assert reviewed and (score(cleaner).jobs_completed, score(cleaner).review_count) == (1, 1)
