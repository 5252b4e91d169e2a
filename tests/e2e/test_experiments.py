"""The A/B test through the real worker: the web assigns, the worker serves and records the variant.

The assignment happens in the web (this process, where the `settings` fixture applies); the
worker only reads `mode` and `pinned_model_version` from the request row, so the session
worker serves both variants without any A/B settings of its own.
"""

from __future__ import annotations

import time
import uuid

import pytest

from app.recommendations.experiments import variant_for
from app.recommendations.models import CleanerRecommendation, JobRecommendation, RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def ab(settings):
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    settings.RECOMMENDATION_AB_TEST_SPLIT = 0.5
    settings.RECOMMENDATION_AB_TEST_NAME = f"e2e-{uuid.uuid4().hex[:8]}"  # fresh buckets every run
    settings.RECOMMENDATION_AB_VARIANT_A = "mode:ensemble"
    settings.RECOMMENDATION_AB_VARIANT_B = "mode:neural"
    return settings


def _variant(settings, user_id: int) -> str:
    return variant_for(
        experiment=settings.RECOMMENDATION_AB_TEST_NAME, user_id=user_id, split=settings.RECOMMENDATION_AB_TEST_SPLIT
    )


def _job_of_client_in(settings, variant: str):
    for _ in range(50):
        job = f.job()
        if _variant(settings, job.client.user_id) == variant:
            return job
    raise AssertionError(f"no client in variant {variant} among 50")


def _done(api_client, resp, timeout: float = 20) -> RecommendationRequest:
    """Wait for the request behind a 202 until its rows are stored."""
    assert resp.status_code == 202, resp.content
    deadline = time.monotonic() + timeout
    while True:
        req = RecommendationRequest.objects.get(pk=resp.json()["id"])
        if req.is_finished:
            assert req.status == "succeeded", req.error
            return req
        assert time.monotonic() < deadline, "request not finished in time"
        time.sleep(0.02)


def _ask_cleaners(api_client, job, body: dict | None = None):
    authenticate(api_client, job.client.user)
    return api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", body or {}, format="json")


def test_it_records_each_clients_variant_on_the_request_and_the_rows(celery_worker, api_client, ab) -> None:
    job_a, job_b = _job_of_client_in(ab, "A"), _job_of_client_in(ab, "B")
    f.cleaner(home_lat=job_a.property.lat, home_lng=job_a.property.lng)
    f.cleaner()

    for job, variant, mode in ((job_a, "A", "ensemble"), (job_b, "B", "neural")):
        req = _done(api_client, _ask_cleaners(api_client, job))
        assert (req.variant, req.mode) == (variant, mode)
        rows = CleanerRecommendation.objects.filter(request=req)
        assert rows.count() == 2
        assert {r.variant for r in rows} == {variant}
        # The rows record the mode actually used: the variant's, or rule-based when no model is active.
        assert {r.mode for r in rows} <= {mode, "rule_based"}


def test_it_records_a_cleaners_variant_on_job_recommendations(celery_worker, api_client, ab) -> None:
    cleaner = f.cleaner()
    f.job()
    f.job()
    authenticate(api_client, cleaner.user)

    req = _done(api_client, api_client.post(f"/api/v1/cleaners/{cleaner.pk}/recommendations/", {}, format="json"))

    want = _variant(ab, cleaner.user_id)
    assert req.variant == want
    rows = JobRecommendation.objects.filter(request=req)
    assert rows.count() == 2 and {r.variant for r in rows} == {want}


def test_it_lets_an_explicit_mode_win_and_records_no_variant(celery_worker, api_client, ab) -> None:
    job = _job_of_client_in(ab, "B")
    f.cleaner()

    req = _done(api_client, _ask_cleaners(api_client, job, {"mode": "rule_based"}))

    assert (req.variant, req.mode) == ("", "rule_based")
    assert set(CleanerRecommendation.objects.filter(request=req).values_list("variant", flat=True)) == {""}


def test_it_never_serves_one_variants_cached_answer_to_another(celery_worker, api_client, ab) -> None:
    job = _job_of_client_in(ab, "B")
    f.cleaner()
    first = _done(api_client, _ask_cleaners(api_client, job))
    deadline = time.monotonic() + 10
    while (again := _ask_cleaners(api_client, job)).status_code != 200:  # the worker caches just after the rows
        assert time.monotonic() < deadline, "answer never cached"
        _done(api_client, again)
        time.sleep(0.05)
    assert again.json()["id"] == str(first.id)

    ab.RECOMMENDATION_AB_TEST_SPLIT = 0.0  # the same client is now in A: a different question
    moved = _done(api_client, _ask_cleaners(api_client, job))

    assert moved.variant == "A" and moved.id != first.id


@pytest.mark.slow
def test_it_serves_a_pinned_model_version_to_its_variant(celery_worker, api_client, ab, models_dir) -> None:
    from app.marketplace.models import CleaningJob
    from app.recommendations.cleaner_scores import cleaner_scores_refresh
    from app.recommendations.model_pointer import ACTIVE_POINTER
    from app.synthetic.generator import training_data_generate
    from workers.training.train import model_train

    active_before = (models_dir / ACTIVE_POINTER).exists()
    training_data_generate(jobs=600, cleaners=40, clients=80, seed=5)
    cleaner_scores_refresh()
    version = f"ab-pin-{uuid.uuid4().hex[:6]}"
    model_train(version=version, models_dir=models_dir, seed=5, activate=False)
    ab.RECOMMENDATION_AB_VARIANT_B = f"model:{version}"
    ab.RECOMMENDATION_AB_TEST_SPLIT = 1.0  # everyone in B
    job = CleaningJob.objects.filter(status="open_for_bids").order_by("pk").first()

    req = _done(api_client, _ask_cleaners(api_client, job, {"limit": 5}))

    assert (req.variant, req.mode, req.pinned_model_version) == ("B", "ensemble", version)
    rows = list(CleanerRecommendation.objects.filter(request=req))
    assert rows, "no candidates for the job"
    # The pinned version served (with no version active at all, unless another test left one).
    assert {(r.variant, r.mode, r.model_version) for r in rows} == {("B", "ensemble", version)}
    assert all(r.neural_score is not None for r in rows)
    assert req.model_version == version

    explicit = _done(api_client, _ask_cleaners(api_client, job, {"limit": 5, "mode": "neural"}))
    # Outside the experiment the active model serves, never the pinned one.
    served = {(r.variant, r.model_version) for r in CleanerRecommendation.objects.filter(request=explicit)}
    assert served and all(variant == "" and v != version for variant, v in served)
    if not active_before:
        assert served == {("", "")}  # no active model: rule-based
