"""The monitoring reads (app/recommendations/stats.py): funnel counts and rates, and the online rates.

The API's view of the same numbers is tested in api/test_stats_api.py; these tests call the
selectors directly, on hand-built rows, window edges included.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from app.recommendations.models import CleanerRecommendation, JobRecommendation, Mode
from app.recommendations.stats import (
    CLEANER_FUNNEL,
    JOB_FUNNEL,
    funnel_breakdowns,
    funnel_overall,
    online_rates,
    rate,
    recommendation_stats,
    rows_between,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

_rank = itertools.count(1)


@pytest.fixture
def pair() -> tuple:
    return f.job(), f.cleaner()


def _job_rows(
    pair, flags: list[tuple[int, int, int]], *, days_ago: float = 1, variant: str = "", version: str = ""
) -> None:
    """Job recommendations with (viewed, bid placed, accepted) flags, made `days_ago` days ago."""
    job, cleaner = pair
    rows = JobRecommendation.objects.bulk_create(
        JobRecommendation(
            job=job,
            cleaner=cleaner,
            score=0.5,
            rank=next(_rank),
            mode=Mode.ENSEMBLE,
            variant=variant,
            model_version=version,
            was_viewed=bool(v),
            was_bid_placed=bool(b),
            was_bid_accepted=bool(a),
        )
        for v, b, a in flags
    )
    # created_at is auto_now_add: move the rows afterwards.
    JobRecommendation.objects.filter(pk__in=[r.pk for r in rows]).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def _cleaner_rows(pair, flags: list[tuple[int, int]], *, days_ago: float = 1) -> None:
    """Cleaner recommendations with (viewed, hired) flags."""
    job, cleaner = pair
    rows = CleanerRecommendation.objects.bulk_create(
        CleanerRecommendation(
            job=job,
            cleaner=cleaner,
            score=0.5,
            rank=next(_rank),
            mode=Mode.ENSEMBLE,
            was_viewed=bool(v),
            was_hired=bool(h),
        )
        for v, h in flags
    )
    CleanerRecommendation.objects.filter(pk__in=[r.pk for r in rows]).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def _last(days: float) -> dict:
    now = timezone.now()
    return {"since": now - timedelta(days=days), "until": now}


# rate --------------------------------------------------------------------------------------------


def test_it_rounds_a_rate_to_six_places() -> None:
    assert rate(1, 3) == 0.333333
    assert rate(2, 3) == 0.666667
    assert rate(0, 4) == 0.0


def test_it_answers_none_for_a_zero_denominator() -> None:
    assert rate(0, 0) is None
    assert rate(5, 0) is None


# The funnels -----------------------------------------------------------------------------------


def test_it_follows_the_job_funnel_each_step_over_the_one_before(pair) -> None:
    #                  (viewed, bid placed, accepted)
    _job_rows(pair, [(1, 1, 1), (1, 1, 0), (1, 1, 0), (1, 0, 0), (0, 0, 0)])

    counts = funnel_overall(JOB_FUNNEL, rows_between(JOB_FUNNEL, **_last(30)))

    assert counts == {
        "total": 5,
        "viewed": 4,
        "bid_placed": 3,
        "accepted": 1,
        "view_rate": 0.8,
        "bid_rate": 0.75,
        "acceptance_rate": 0.333333,
    }


def test_it_leaves_a_rate_without_a_denominator_null_not_zero(pair) -> None:
    _job_rows(pair, [(0, 0, 0), (0, 0, 0)])  # shown, never viewed
    _cleaner_rows(pair, [(1, 0), (1, 0)])  # viewed, nobody hired

    jobs = funnel_overall(JOB_FUNNEL, rows_between(JOB_FUNNEL, **_last(30)))
    cleaners = funnel_overall(CLEANER_FUNNEL, rows_between(CLEANER_FUNNEL, **_last(30)))

    assert (jobs["view_rate"], jobs["bid_rate"], jobs["acceptance_rate"]) == (0.0, None, None)
    assert cleaners == {"total": 2, "viewed": 2, "hired": 0, "view_rate": 1.0, "hire_rate": 0.0}


def test_it_counts_an_empty_window_as_zeros_with_null_rates() -> None:
    counts = funnel_overall(CLEANER_FUNNEL, rows_between(CLEANER_FUNNEL, **_last(30)))

    assert counts == {"total": 0, "viewed": 0, "hired": 0, "view_rate": None, "hire_rate": None}


def test_it_counts_flags_as_recorded_even_past_one(pair) -> None:
    # Feedback can mark a job accepted without a recorded bid (a `hired` event).
    _job_rows(pair, [(1, 1, 1), (1, 0, 1)])

    counts = funnel_overall(JOB_FUNNEL, rows_between(JOB_FUNNEL, **_last(30)))

    assert (counts["bid_placed"], counts["accepted"], counts["acceptance_rate"]) == (1, 2, 2.0)


def test_it_reads_the_window_from_since_included_to_until_excluded(pair) -> None:
    _job_rows(pair, [(1, 0, 0)], days_ago=2)
    moment = JobRecommendation.objects.get().created_at

    def total(since, until) -> int:
        return rows_between(JOB_FUNNEL, since=since, until=until).count()

    assert total(moment, moment + timedelta(microseconds=1)) == 1
    assert total(moment - timedelta(hours=1), moment) == 0


def test_it_breaks_the_funnel_down_by_variant_version_and_day(pair) -> None:
    _job_rows(pair, [(1, 1, 1), (1, 0, 0)], days_ago=3, variant="A", version="v1")
    _job_rows(pair, [(1, 1, 0)], days_ago=1, variant="B", version="v2")
    _job_rows(pair, [(0, 0, 0)], days_ago=1)  # outside the experiment, rule-based
    _job_rows(pair, [(1, 1, 1)], days_ago=45, variant="A", version="v1")  # outside the window

    got = funnel_breakdowns(JOB_FUNNEL, **_last(30))

    a = {
        "total": 2,
        "viewed": 2,
        "bid_placed": 1,
        "accepted": 1,
        "view_rate": 1.0,
        "bid_rate": 0.5,
        "acceptance_rate": 1.0,
    }
    b = {
        "total": 1,
        "viewed": 1,
        "bid_placed": 1,
        "accepted": 0,
        "view_rate": 1.0,
        "bid_rate": 1.0,
        "acceptance_rate": 0.0,
    }
    none = {
        "total": 1,
        "viewed": 0,
        "bid_placed": 0,
        "accepted": 0,
        "view_rate": 0.0,
        "bid_rate": None,
        "acceptance_rate": None,
    }
    assert got["by_variant"] == [{"variant": None, **none}, {"variant": "A", **a}, {"variant": "B", **b}]
    assert got["by_model_version"] == [
        {"model_version": None, **none},
        {"model_version": "v1", **a},
        {"model_version": "v2", **b},
    ]
    days = [(timezone.now() - timedelta(days=n)).date().isoformat() for n in (3, 1)]
    assert [(d["day"], d["total"]) for d in got["by_day"]] == [(days[0], 2), (days[1], 2)]
    assert got["overall"]["total"] == 4


def test_it_reports_both_funnels_for_the_window(pair) -> None:
    _job_rows(pair, [(1, 1, 0)])
    _cleaner_rows(pair, [(1, 1), (0, 0)])
    window = _last(7)

    stats = recommendation_stats(**window)

    assert (stats["since"], stats["until"]) == (window["since"], window["until"])
    assert stats["job_recommendations"]["overall"]["bid_rate"] == 1.0
    assert stats["cleaner_recommendations"]["overall"] == {
        "total": 2,
        "viewed": 1,
        "hired": 1,
        "view_rate": 0.5,
        "hire_rate": 1.0,
    }


# Online rates ------------------------------------------------------------------------------------


def test_it_measures_each_online_rate_over_the_rows_of_its_denominator(pair) -> None:
    _job_rows(pair, [(1, 1, 1), (1, 1, 0), (1, 0, 0), (0, 1, 1), (0, 0, 0)])
    _cleaner_rows(pair, [(1, 1), (1, 0), (1, 0), (0, 1)])
    _job_rows(pair, [(1, 1, 1)] * 5, days_ago=40)  # before the window
    window = _last(30)

    got = online_rates(**window)

    assert (got["since"], got["until"]) == (window["since"].isoformat(), window["until"].isoformat())
    rates = got["rates"]
    assert rates["job_view_to_bid"] == {"n": 3, "hits": 2, "rate": 2 / 3}  # unrounded, unlike the funnel's
    assert rates["job_bid_to_accepted"] == {"n": 3, "hits": 2, "rate": 2 / 3}
    assert rates["cleaner_view_to_hire"] == {"n": 3, "hits": 1, "rate": 1 / 3}


def test_it_answers_none_for_an_online_rate_with_no_rows() -> None:
    rates = online_rates(**_last(30))["rates"]

    assert rates == {
        name: {"n": 0, "hits": 0, "rate": None}
        for name in ("job_view_to_bid", "job_bid_to_accepted", "cleaner_view_to_hire")
    }
