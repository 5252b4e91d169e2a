"""GET /api/v1/recommendations/stats/: the guide's monitoring numbers, against hand-built rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from app.accounts.models import User
from app.recommendations.models import CleanerRecommendation, JobRecommendation, Mode
from tests import factories as f
from tests.support.auth import authenticate

URL = "/api/v1/recommendations/stats/"
pytestmark = pytest.mark.django_db


def _job_rows(job, cleaner, when, variant: str, version: str, flags: list[tuple[int, int, int]]) -> None:
    start = JobRecommendation.objects.count()
    rows = JobRecommendation.objects.bulk_create(
        [
            JobRecommendation(
                job=job,
                cleaner=cleaner,
                score=0.5,
                rank=start + i + 1,
                mode=Mode.ENSEMBLE,
                variant=variant,
                model_version=version,
                was_viewed=bool(v),
                was_bid_placed=bool(b),
                was_bid_accepted=bool(a),
            )
            for i, (v, b, a) in enumerate(flags)
        ]
    )
    # created_at is auto_now_add: move the rows to the day under test afterwards.
    JobRecommendation.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=when)


def _cleaner_rows(job, cleaner, when, variant: str, version: str, flags: list[tuple[int, int]]) -> None:
    start = CleanerRecommendation.objects.count()
    rows = CleanerRecommendation.objects.bulk_create(
        [
            CleanerRecommendation(
                job=job,
                cleaner=cleaner,
                score=0.5,
                rank=start + i + 1,
                mode=Mode.ENSEMBLE,
                variant=variant,
                model_version=version,
                was_viewed=bool(v),
                was_hired=bool(h),
            )
            for i, (v, h) in enumerate(flags)
        ]
    )
    CleanerRecommendation.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=when)


@pytest.fixture
def marketplace_rows() -> dict:
    job, cleaner = f.job(), f.cleaner()
    now = timezone.now()
    day1, day2, old = now - timedelta(days=2), now - timedelta(days=1), now - timedelta(days=40)
    #                                      (viewed, bid placed, accepted)
    _job_rows(job, cleaner, day1, "A", "v1", [(1, 1, 1), (1, 1, 0), (1, 0, 0), (0, 0, 0)])
    _job_rows(job, cleaner, day2, "B", "v2", [(1, 1, 1), (1, 1, 1), (0, 0, 0)])
    _job_rows(job, cleaner, day2, "", "", [(1, 0, 0)])  # rule-based, outside the experiment
    _job_rows(job, cleaner, old, "A", "v1", [(1, 1, 1)])  # older than 30 days
    #                                          (viewed, hired)
    _cleaner_rows(job, cleaner, day1, "A", "v1", [(1, 1), (1, 0), (0, 0)])
    _cleaner_rows(job, cleaner, day2, "B", "v2", [(1, 1), (1, 1)])
    return {"day1": day1.date().isoformat(), "day2": day2.date().isoformat()}


def _get(api_client, user: User | None, **params):
    if user is not None:
        authenticate(api_client, user)
    return api_client.get(URL, params)


def _jobs(total, viewed, bid, accepted, view_rate, bid_rate, acceptance_rate) -> dict:
    return {
        "total": total,
        "viewed": viewed,
        "bid_placed": bid,
        "accepted": accepted,
        "view_rate": view_rate,
        "bid_rate": bid_rate,
        "acceptance_rate": acceptance_rate,
    }


def test_it_computes_the_job_funnel_overall_and_per_variant_version_and_day(api_client, marketplace_rows) -> None:
    resp = _get(api_client, f.operator())

    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["days"] == 30
    jobs = body["job_recommendations"]
    # 8 rows in the window: viewed 6, bids 4, accepted 3 (the 40-day-old row is left out).
    assert jobs["overall"] == _jobs(8, 6, 4, 3, 0.75, 0.666667, 0.75)
    a = _jobs(4, 3, 2, 1, 0.75, 0.666667, 0.5)
    b = _jobs(3, 2, 2, 2, 0.666667, 1.0, 1.0)
    # The row outside the experiment has views but no bids: its acceptance rate is null, not 0.
    unassigned = _jobs(1, 1, 0, 0, 1.0, 0.0, None)
    assert jobs["by_variant"] == [{"variant": None, **unassigned}, {"variant": "A", **a}, {"variant": "B", **b}]
    assert jobs["by_model_version"] == [
        {"model_version": None, **unassigned},
        {"model_version": "v1", **a},
        {"model_version": "v2", **b},
    ]
    assert jobs["by_day"] == [
        {"day": marketplace_rows["day1"], **a},
        {"day": marketplace_rows["day2"], **_jobs(4, 3, 2, 2, 0.75, 0.666667, 1.0)},
    ]


def test_it_computes_the_cleaner_funnel(api_client, marketplace_rows) -> None:
    cleaners = _get(api_client, f.operator()).json()["cleaner_recommendations"]

    assert cleaners["overall"] == {"total": 5, "viewed": 4, "hired": 3, "view_rate": 0.8, "hire_rate": 0.75}
    a = {"total": 3, "viewed": 2, "hired": 1, "view_rate": 0.666667, "hire_rate": 0.5}
    b = {"total": 2, "viewed": 2, "hired": 2, "view_rate": 1.0, "hire_rate": 1.0}
    assert cleaners["by_variant"] == [{"variant": "A", **a}, {"variant": "B", **b}]
    assert cleaners["by_model_version"] == [{"model_version": "v1", **a}, {"model_version": "v2", **b}]
    assert cleaners["by_day"] == [{"day": marketplace_rows["day1"], **a}, {"day": marketplace_rows["day2"], **b}]


def test_it_widens_the_window_with_days(api_client, marketplace_rows) -> None:
    jobs = _get(api_client, f.operator(), days=60).json()["job_recommendations"]
    assert jobs["overall"] == _jobs(9, 7, 5, 4, 0.777778, 0.714286, 0.8)
    assert len(jobs["by_day"]) == 3


def test_it_answers_nulls_on_an_empty_window(api_client) -> None:
    body = _get(api_client, f.operator(), days=1).json()
    assert body["job_recommendations"] == {
        "overall": _jobs(0, 0, 0, 0, None, None, None),
        "by_variant": [],
        "by_model_version": [],
        "by_day": [],
    }
    assert body["cleaner_recommendations"]["overall"]["hire_rate"] is None


def test_it_aggregates_in_one_query_per_breakdown(api_client, marketplace_rows) -> None:
    operator = f.operator()
    authenticate(api_client, operator)
    with CaptureQueriesContext(connection) as queries:
        assert api_client.get(URL).status_code == 200
    tables = (JobRecommendation._meta.db_table, CleanerRecommendation._meta.db_table)
    reads = [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in tables)]
    assert len(reads) == 8, reads  # overall, per variant, per version, per day; for each of the two tables


@pytest.mark.parametrize("role", [User.Role.CLIENT, User.Role.CLEANER])
def test_it_forbids_clients_and_cleaners(api_client, role: str) -> None:
    resp = _get(api_client, f.user(role))
    assert resp.status_code == 403
    assert resp["Content-Type"] == "application/problem+json"
    assert "operators" in resp.json()["detail"]


def test_it_requires_a_token(api_client) -> None:
    resp = _get(api_client, None)
    assert resp.status_code == 401
    assert resp["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("days", ["0", "366", "abc", "-3", "1.5", "99999999999999999999"])
def test_it_rejects_a_bad_days_parameter_naming_the_field(api_client, days: str) -> None:
    resp = _get(api_client, f.operator(), days=days)
    assert resp.status_code == 400, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    assert resp.json()["errors"][0]["field"] == "days"
