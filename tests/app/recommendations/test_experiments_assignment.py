"""Who gets which variant, and what a new request records."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.recommendations import services
from app.recommendations.experiments import (
    Assignment,
    bucket_of,
    experiment_assign,
    variant_for,
    variant_spec_parse,
)
from app.recommendations.models import RecommendationRequest
from tests import factories as f
from tests.support import ROOT
from tests.support.auth import authenticate

Kind = RecommendationRequest.Kind


@pytest.fixture
def ab(settings):
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    settings.RECOMMENDATION_AB_TEST_SPLIT = 0.5
    settings.RECOMMENDATION_AB_TEST_NAME = "test-exp"
    settings.RECOMMENDATION_AB_VARIANT_A = "mode:ensemble"
    settings.RECOMMENDATION_AB_VARIANT_B = "mode:neural"
    return settings


def test_it_buckets_by_sha256_of_experiment_and_user() -> None:
    # Pinned values: a change here would silently move live users between variants.
    assert bucket_of(experiment="default", user_id=1) == 8883
    assert bucket_of(experiment="default", user_id=42) == 1570
    assert bucket_of(experiment="spring-test", user_id=42) == 1886
    assert variant_for(experiment="default", user_id=42, split=0.5) == "B"  # 1570 < 5000
    assert variant_for(experiment="default", user_id=1, split=0.5) == "A"  # 8883 >= 5000


def test_it_assigns_the_same_variants_in_a_fresh_process_with_another_hash_seed() -> None:
    ids = list(range(1, 201))
    here = [variant_for(experiment="stable", user_id=i, split=0.5) for i in ids]
    code = (
        "import django, json; django.setup();"
        "from app.recommendations.experiments import variant_for;"
        f"print(json.dumps([variant_for(experiment='stable', user_id=i, split=0.5) for i in {ids!r}]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == here
    assert set(here) == {"A", "B"}


@pytest.mark.parametrize("split", [0.3, 0.5, 0.7, 0.05])
def test_it_splits_ten_thousand_users_as_configured(split: float) -> None:
    in_b = sum(variant_for(experiment="default", user_id=i, split=split) == "B" for i in range(1, 10_001))
    assert abs(in_b / 10_000 - split) <= 0.015, f"{in_b} of 10,000 in B for split {split}"


def test_it_puts_everyone_in_one_variant_at_the_ends_of_the_split() -> None:
    ids = range(1, 2001)
    assert {variant_for(experiment="x", user_id=i, split=0.0) for i in ids} == {"A"}
    assert {variant_for(experiment="x", user_id=i, split=1.0) for i in ids} == {"B"}


def test_it_reshuffles_users_when_the_experiment_is_renamed() -> None:
    ids = range(1, 4001)
    first = [variant_for(experiment="one", user_id=i, split=0.5) for i in ids]
    second = [variant_for(experiment="two", user_id=i, split=0.5) for i in ids]
    moved = sum(a != b for a, b in zip(first, second)) / len(first)
    assert 0.45 < moved < 0.55  # independent assignments: about half change sides


def test_it_parses_variant_specs_and_refuses_bad_ones() -> None:
    assert variant_spec_parse("mode:neural").mode == "neural"
    pinned = variant_spec_parse("model:20250601")
    assert (pinned.mode, pinned.model_version) == ("", "20250601")
    for bad in ("neural", "mode:fast", "model:", "model:a/b", "model:" + "9" * 33, ""):
        with pytest.raises(ValueError, match="is not a variant"):
            variant_spec_parse(bad)


@pytest.mark.django_db
def test_it_assigns_nothing_while_the_test_is_off(settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = False
    job = f.job()
    assert experiment_assign(kind=Kind.CLEANERS_FOR_JOB, job=job) == Assignment()


@pytest.mark.django_db
def test_it_assigns_a_job_by_its_client_and_a_cleaner_by_themself(ab) -> None:
    job = f.job()
    cleaner = f.cleaner()
    for kind, subject, kwargs in (
        (Kind.CLEANERS_FOR_JOB, job.client.user_id, {"job": job, "cleaner": None}),
        (Kind.JOBS_FOR_CLEANER, cleaner.user_id, {"job": None, "cleaner": cleaner}),
        (Kind.BID_SUGGESTION, cleaner.user_id, {"job": job, "cleaner": cleaner}),
    ):
        want = variant_for(experiment="test-exp", user_id=subject, split=0.5)
        got = experiment_assign(kind=kind, **kwargs)
        assert got.variant == want
        assert got.mode == ("neural" if want == "B" else "ensemble")


@pytest.mark.django_db
def test_it_records_the_variant_and_its_mode_on_the_request(ab) -> None:
    job = f.job()
    ab.RECOMMENDATION_AB_TEST_SPLIT = 1.0  # everyone in B
    req = services.recommendation_request_create(user=job.client.user, kind=Kind.CLEANERS_FOR_JOB, job=job)
    req.refresh_from_db()
    assert (req.variant, req.mode, req.pinned_model_version) == ("B", "neural", "")

    ab.RECOMMENDATION_AB_TEST_SPLIT = 0.0  # everyone in A
    req = services.recommendation_request_create(user=job.client.user, kind=Kind.CLEANERS_FOR_JOB, job=job)
    req.refresh_from_db()
    assert (req.variant, req.mode, req.pinned_model_version) == ("A", "ensemble", "")


@pytest.mark.django_db
def test_it_records_a_pinned_model_version_with_the_default_mode(ab) -> None:
    ab.RECOMMENDATION_AB_TEST_SPLIT = 1.0
    ab.RECOMMENDATION_AB_VARIANT_B = "model:20250601"
    ab.RECOMMENDATION_MODE = "neural"
    cleaner = f.cleaner()
    req = services.recommendation_request_create(user=cleaner.user, kind=Kind.JOBS_FOR_CLEANER, cleaner=cleaner)
    req.refresh_from_db()
    assert (req.variant, req.mode, req.pinned_model_version) == ("B", "neural", "20250601")


@pytest.mark.django_db
def test_it_lets_an_explicit_mode_win_over_the_variant(ab, api_client) -> None:
    ab.RECOMMENDATION_AB_TEST_SPLIT = 1.0
    job = f.job()
    authenticate(api_client, job.client.user)

    resp = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"mode": "rule_based"}, format="json")

    assert resp.status_code == 202, resp.content
    req = RecommendationRequest.objects.get(pk=resp.json()["id"])
    assert (req.variant, req.mode, req.pinned_model_version) == ("", "rule_based", "")


@pytest.mark.django_db
def test_it_gives_an_operator_the_variant_of_the_cleaner_they_ask_for(ab, api_client) -> None:
    cleaner = f.cleaner()
    want = variant_for(experiment="test-exp", user_id=cleaner.user_id, split=0.5)
    operator = f.operator()
    authenticate(api_client, operator)

    resp = api_client.post(f"/api/v1/cleaners/{cleaner.pk}/recommendations/", {}, format="json")

    assert resp.status_code == 202, resp.content
    assert RecommendationRequest.objects.get(pk=resp.json()["id"]).variant == want


def test_it_keys_the_cache_differently_per_variant() -> None:
    a = Assignment(variant="A", mode="ensemble")
    b = Assignment(variant="B", mode="neural")
    pinned = Assignment(variant="B", mode="ensemble", model_version="v7")
    explicit = Assignment(mode="ensemble")
    keys = {a.cache_mode, b.cache_mode, pinned.cache_mode, explicit.cache_mode, Assignment().cache_mode}
    assert len(keys) == 5
    assert explicit.cache_mode == "ensemble" and Assignment().cache_mode == ""  # unchanged keys with the test off
