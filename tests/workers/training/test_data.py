"""The data layer between the tables and the ML layer (workers/training/data.py).

`rating_to_target` and `history_columns` on hand-built arrays; `training_set_load` on a small
generated marketplace, checked against the rows it was read from.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from app.marketplace.models import Bid, CleaningJob, Review
from app.recommendations.cleaner_scores import PRIOR_JOBS, PRIOR_RELIABILITY, PRIOR_REVIEWS
from tests import factories as f
from workers.recommend.features import CLEANER_COLUMNS, JOB_COLUMNS
from workers.training.data import history_columns, rating_to_target, training_set_load

NAN = np.nan


# Ratings to targets ----------------------------------------------------------------------------


def test_it_maps_one_to_ten_stars_onto_zero_to_one() -> None:
    target = rating_to_target(np.array([1, 10, 5.5, 7]))
    assert target.dtype == np.float32
    assert target.tolist() == pytest.approx([0.0, 1.0, 0.5, 6 / 9])


def test_it_keeps_a_missing_rating_missing() -> None:
    target = rating_to_target([8, NAN])
    assert target[0] == pytest.approx(7 / 9) and np.isnan(target[1])


# A cleaner's history -----------------------------------------------------------------------------


def _profiles() -> dict[str, np.ndarray]:
    return {"cleaner_id": np.array([10, 20, 30]), "hourly_rate": np.array([30.0, 40.0, 50.0])}


def _jobs(**columns) -> dict[str, np.ndarray]:
    return {key: np.asarray(value) for key, value in columns.items()}


def _quality(rating_sum: float, reviews: float, prior: float) -> float:
    mean = (rating_sum + PRIOR_REVIEWS * prior) / (reviews + PRIOR_REVIEWS)
    return (mean - 1) / 9


def _reliability(completed: float, assigned: float, cancelled: float, on_time: float, reviews: float) -> float:
    completion = (completed + PRIOR_JOBS * PRIOR_RELIABILITY) / (assigned + PRIOR_JOBS)
    punctuality = (on_time + PRIOR_JOBS * PRIOR_RELIABILITY) / (reviews + PRIOR_JOBS)
    return 0.5 * completion + 0.5 * punctuality - cancelled / (assigned + PRIOR_JOBS)


def test_it_scores_each_cleaner_from_the_selected_jobs_only() -> None:
    jobs = _jobs(
        assigned_cleaner_id=[10, 10, 10, 20, 0, 30, 20],
        rating=[10, 6, NAN, 4, NAN, 9, 1],
        on_time=[True, False, False, True, False, True, True],
        completed=[True, True, False, True, False, True, True],
        cancelled_by_cleaner=[False, False, True, False, False, False, False],
    )
    # The last two jobs are validation jobs: what they say must not reach the scores.
    train = np.array([True, True, True, True, True, False, False])

    history = history_columns(_profiles(), jobs, train)

    prior = (10 + 6 + 4) / 3  # the mean rating of the selected jobs
    assert history["review_count"].tolist() == [2, 1, 0]
    assert history["quality"] == pytest.approx([_quality(16, 2, prior), _quality(4, 1, prior), _quality(0, 0, prior)])
    assert history["quality"][2] == pytest.approx((prior - 1) / 9)  # no history: the prior
    assert history["reliability"] == pytest.approx(
        [
            _reliability(completed=2, assigned=3, cancelled=1, on_time=1, reviews=2),
            _reliability(completed=1, assigned=1, cancelled=0, on_time=1, reviews=1),
            PRIOR_RELIABILITY,
        ]
    )
    assert history["hourly_rate"].tolist() == [30.0, 40.0, 50.0]  # the profile passes through


def test_it_falls_back_to_a_prior_of_seven_without_any_rating() -> None:
    jobs = _jobs(
        assigned_cleaner_id=[10, 20],
        rating=[NAN, 9],
        on_time=[False, True],
        completed=[True, True],
        cancelled_by_cleaner=[False, False],
    )

    history = history_columns(_profiles(), jobs, np.array([True, False]))

    assert history["review_count"].tolist() == [0, 0, 0]
    assert history["quality"] == pytest.approx([(7 - 1) / 9] * 3)


# The training set --------------------------------------------------------------------------------


@pytest.fixture
def generated(db) -> None:
    """300 jobs, 30 cleaners, 60 clients, as the generator makes them (a few seconds)."""
    from app.synthetic.generator import training_data_generate

    training_data_generate(jobs=300, cleaners=30, clients=60, seed=3)


def _reviewed_jobs() -> dict[int, tuple[datetime, int, int]]:
    """job id -> (start, assigned cleaner, rating) of every completed job with a review."""
    rows = Review.objects.filter(job__status=CleaningJob.Status.COMPLETED).values_list(
        "job_id", "job__scheduled_start", "job__assigned_cleaner_id", "rating"
    )
    return {job_id: (start, cleaner_id, rating) for job_id, start, cleaner_id, rating in rows}


def test_it_splits_the_reviewed_jobs_in_time(generated) -> None:
    reviewed = _reviewed_jobs()

    data = training_set_load(val_fraction=0.2)

    assert data.completed_jobs == len(reviewed) > 100
    train_ids, val_ids = data.train.group.tolist(), data.val.group.tolist()
    assert sorted(train_ids + val_ids) == sorted(reviewed)
    split = datetime.fromisoformat(data.split_at)
    assert all(reviewed[j][0] < split for j in train_ids)
    assert all(reviewed[j][0] >= split for j in val_ids)
    assert split == min(reviewed[j][0] for j in val_ids)
    # The latest fifth validates; jobs starting at the split's instant all go there too.
    assert len(val_ids) >= len(reviewed) - int(len(reviewed) * 0.8)
    assert len(val_ids) < 0.3 * len(reviewed)


def test_it_pairs_each_job_with_its_cleaner_and_its_rating(generated) -> None:
    reviewed = _reviewed_jobs()

    data = training_set_load()

    for pairs in (data.train, data.val):
        assert set(pairs.job) == set(JOB_COLUMNS) and set(pairs.cleaner) == set(CLEANER_COLUMNS)
        ids = pairs.group.tolist()
        assert pairs.job["job_id"].tolist() == ids
        assert pairs.cleaner["cleaner_id"].tolist() == [reviewed[j][1] for j in ids]
        assert pairs.target.tolist() == pytest.approx([(reviewed[j][2] - 1) / 9 for j in ids])
        assert pairs.relevance.tolist() == [1.0] * len(ids)


def test_it_scores_cleaners_from_the_training_slice_only(generated) -> None:
    data = training_set_load()
    split = datetime.fromisoformat(data.split_at)

    before = Review.objects.filter(job__scheduled_start__lt=split)
    for cleaner_id, count in zip(
        data.val.cleaner["cleaner_id"].tolist(), data.val.cleaner["review_count"].tolist(), strict=True
    ):
        assert count == before.filter(job__assigned_cleaner_id=cleaner_id).count(), cleaner_id
    assert data.val.cleaner["review_count"].sum() > 0


def test_it_ranks_validation_jobs_by_all_their_bidders(generated) -> None:
    data = training_set_load()
    bidders = data.val_bidders

    assert len(bidders) > 0
    groups, counts = np.unique(bidders.group, return_counts=True)
    assert set(groups.tolist()) <= set(data.val.group.tolist())
    assert counts.min() >= 2  # a job with one bidder says nothing about order
    status = dict(
        ((j, c), s)
        for j, c, s in Bid.objects.filter(job_id__in=groups.tolist()).values_list("job_id", "cleaner_id", "status")
    )
    for job_id, cleaner_id, relevance in zip(
        bidders.group.tolist(), bidders.cleaner["cleaner_id"].tolist(), bidders.relevance.tolist(), strict=True
    ):
        assert relevance == (1.0 if status[(job_id, cleaner_id)] == Bid.Status.ACCEPTED else 0.0)
    assert sum(bidders.relevance) >= 1


@pytest.mark.django_db
def test_it_leaves_validation_jobs_with_a_single_bidder_out_of_the_ranking() -> None:
    hired, other = f.cleaner(), f.cleaner()
    jobs = [f.completed_job(hired, rating=8) for _ in range(10)]  # one bid each: the accepted one
    contested = jobs[-1]
    Bid.objects.create(job=contested, cleaner=other, amount=130, status=Bid.Status.REJECTED)

    data = training_set_load()

    assert contested.pk in data.val.group.tolist()
    bidders = data.val_bidders
    assert bidders.group.tolist() == [contested.pk, contested.pk]
    ranked = dict(zip(bidders.cleaner["cleaner_id"].tolist(), bidders.relevance.tolist(), strict=True))
    assert ranked == {hired.pk: 1.0, other.pk: 0.0}


@pytest.mark.django_db
def test_it_refuses_to_train_on_fewer_than_ten_reviewed_jobs() -> None:
    cleaner = f.cleaner()
    for rating in (9, 7, 8):
        f.completed_job(cleaner, rating=rating)

    with pytest.raises(ValueError, match="only 3 completed jobs with a review: generate or collect more data first"):
        training_set_load()
