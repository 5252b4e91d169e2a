"""experiment_results and GET /api/v1/experiments/results/ against hand-built rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from app.accounts.models import User
from app.recommendations.experiments import experiment_results
from app.recommendations.models import CleanerRecommendation, JobRecommendation, Mode, RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate

URL = "/api/v1/experiments/results/"
pytestmark = pytest.mark.django_db


def _job_rows(job, cleaner, variant: str, n: int, *, viewed=True, bid=True, accepted=False) -> None:
    start = JobRecommendation.objects.count()
    JobRecommendation.objects.bulk_create(
        JobRecommendation(
            job=job,
            cleaner=cleaner,
            score=0.5,
            rank=start + i + 1,
            mode=Mode.ENSEMBLE,
            variant=variant,
            was_viewed=viewed,
            was_bid_placed=bid,
            was_bid_accepted=accepted,
        )
        for i in range(n)
    )


@pytest.fixture
def textbook_rows() -> None:
    """Acceptance 200 of 1000 bids in A, 250 of 1000 in B, plus rows that must not count."""
    job, cleaner = f.job(), f.cleaner()
    _job_rows(job, cleaner, "A", 200, accepted=True)
    _job_rows(job, cleaner, "A", 800)
    _job_rows(job, cleaner, "B", 250, accepted=True)
    _job_rows(job, cleaner, "B", 750)
    _job_rows(job, cleaner, "B", 100, bid=False)  # viewed, no bid
    # A hire reported without a bid: counted as `accepted` (the guide's SUM), not as a test success.
    _job_rows(job, cleaner, "B", 5, bid=False, accepted=True)
    _job_rows(job, cleaner, "", 500, accepted=True)  # outside the experiment (explicit mode)
    old = JobRecommendation.objects.bulk_create(
        JobRecommendation(
            job=job,
            cleaner=cleaner,
            score=0.5,
            rank=10_000 + i,
            mode=Mode.ENSEMBLE,
            variant="A",
            was_viewed=True,
            was_bid_placed=True,
        )
        for i in range(300)
    )
    JobRecommendation.objects.filter(pk__in=[r.pk for r in old]).update(created_at=timezone.now() - timedelta(days=90))
    CleanerRecommendation.objects.bulk_create(
        CleanerRecommendation(
            job=job,
            cleaner=cleaner,
            score=0.5,
            rank=i + 1,
            mode=Mode.ENSEMBLE,
            variant="B",
            was_viewed=True,
            was_hired=i < 3,
        )
        for i in range(10)
    )
    for variant, n in (("A", 4), ("B", 6), ("", 2)):
        for _ in range(n):
            RecommendationRequest.objects.create(
                kind="jobs_for_cleaner", requested_by=cleaner.user, cleaner=cleaner, variant=variant
            )


def _window() -> dict:
    now = timezone.now()
    return {"since": now - timedelta(days=30), "until": now + timedelta(seconds=1)}


def test_it_compares_the_variants_on_acceptance(textbook_rows, settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    settings.RECOMMENDATION_AB_TEST_NAME = "neural-vs-ensemble"

    r = experiment_results(**_window())

    assert (r["experiment"], r["enabled"], r["split"]) == ("neural-vs-ensemble", True, 0.5)
    a, b = r["variants"]["A"], r["variants"]["B"]
    assert (a["spec"], b["spec"]) == ("mode:ensemble", "mode:neural")
    assert (a["requests"], b["requests"]) == (4, 6)
    assert a["job_recommendations"] == {
        "total": 1000,
        "viewed": 1000,
        "bid_placed": 1000,
        "accepted": 200,
        "view_rate": 1.0,
        "bid_rate": 1.0,
        "acceptance_rate": 0.2,
    }
    assert b["job_recommendations"] == {
        "total": 1105,
        "viewed": 1105,
        "bid_placed": 1000,
        "accepted": 255,
        "view_rate": 1.0,
        "bid_rate": 0.904977,
        "acceptance_rate": 0.255,
    }
    assert a["cleaner_recommendations"]["total"] == 0 and a["cleaner_recommendations"]["hire_rate"] is None
    assert b["cleaner_recommendations"] == {"total": 10, "viewed": 10, "hired": 3, "view_rate": 1.0, "hire_rate": 0.3}
    t = r["test"]
    assert (t["metric"], t["successes_a"], t["trials_a"], t["successes_b"], t["trials_b"]) == (
        "acceptance_rate",
        200,
        1000,
        250,
        1000,
    )
    assert t["z"] == pytest.approx(2.6774, abs=1e-4)
    assert t["p_value"] == pytest.approx(0.00742, abs=1e-5)
    assert t["absolute_lift"] == pytest.approx(0.05)
    assert t["relative_lift"] == pytest.approx(0.25)
    assert t["verdict"] == "B is better (p=0.0074)"


def test_it_tests_the_metric_asked_for(textbook_rows) -> None:
    r = experiment_results(**_window(), metric="hire_rate", min_trials=5)
    t = r["test"]
    assert (t["successes_a"], t["trials_a"], t["successes_b"], t["trials_b"]) == (0, 0, 3, 10)
    assert t["verdict"] == "not enough data (need at least 5 per variant)"

    r = experiment_results(**_window(), metric="bid_rate")
    t = r["test"]
    assert (t["successes_a"], t["trials_a"], t["successes_b"], t["trials_b"]) == (1000, 1000, 1000, 1105)
    assert t["verdict"] == "A is better (p<0.001)"


def test_it_rejects_an_unknown_metric() -> None:
    with pytest.raises(ValueError, match="unknown metric 'revenue'"):
        experiment_results(**_window(), metric="revenue")


def test_it_serves_the_results_to_operators(api_client, textbook_rows) -> None:
    authenticate(api_client, f.operator())
    resp = api_client.get(URL, {"days": 7})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["test"]["verdict"] == "B is better (p=0.0074)"
    assert body["test"]["absolute_lift_ci"] == pytest.approx([0.013464, 0.086536], abs=1e-6)
    assert body["variants"]["B"]["requests"] == 6


def test_it_reads_an_explicit_window(api_client, textbook_rows) -> None:
    authenticate(api_client, f.operator())
    now = timezone.now()
    resp = api_client.get(
        URL, {"since": (now - timedelta(days=120)).isoformat(), "until": (now - timedelta(days=60)).isoformat()}
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["variants"]["A"]["job_recommendations"]["total"] == 300  # only the old rows


@pytest.mark.parametrize(
    "params, field",
    [
        ({"metric": "revenue"}, "metric"),
        ({"days": "0"}, "days"),
        ({"min_trials": "0"}, "min_trials"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, "since"),
    ],
)
def test_it_rejects_bad_parameters_naming_the_field(api_client, params: dict, field: str) -> None:
    authenticate(api_client, f.operator())
    resp = api_client.get(URL, params)
    assert resp.status_code == 400, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    assert resp.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("role", [User.Role.CLIENT, User.Role.CLEANER])
def test_it_forbids_clients_and_cleaners(api_client, role: str) -> None:
    authenticate(api_client, f.user(role))
    assert api_client.get(URL).status_code == 403


def test_it_requires_a_token(api_client) -> None:
    assert api_client.get(URL).status_code == 401
