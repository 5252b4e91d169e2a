"""Retraining: the champion–challenger gate on real models, the skip, the lock, and the real trainer."""

from __future__ import annotations

import pytest

from app.common.redis_client import client
from app.recommendations import registry
from app.recommendations.model_pointer import ACTIVE_KEY, active_version_read
from app.recommendations.models import ModelVersion
from tests import factories as f
from tests.support.auth import authenticate
from tests.support.training import add_review, train
from tests.support.waiting import wait_until
from workers.celery import app
from workers.training.retrain import model_retrain

# Each test leaves no model pointer behind: the tests after it see rule-based.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_pointers")]

Status = ModelVersion.Status


def _published() -> str | None:
    value = client().get(ACTIVE_KEY)
    return value.decode() if value else None


def test_it_promotes_a_better_candidate_and_records_why(marketplace, models_dir) -> None:
    # A champion trained for a single epoch: deliberately weak, and really so.
    weak = train(epochs=1, activate=True).version
    add_review()

    result = model_retrain(owner="test")

    assert result["status"] == "promoted", result
    row = ModelVersion.objects.get(version=result["version"])
    assert row.status == Status.ACTIVE and row.promoted_by is None and row.promoted_at is not None
    assert ModelVersion.objects.get(version=weak).status == Status.RETIRED
    d = row.decision
    assert d["verdict"] == "promote" and d["champion_version"] == weak
    by_metric = {c["metric"]: c for c in d["comparisons"]}
    assert by_metric["pairwise_accuracy"]["candidate"] > by_metric["pairwise_accuracy"]["champion"]
    assert by_metric["r2"]["candidate"] > by_metric["r2"]["champion"]
    assert d["tolerance"] == {"pairwise_accuracy": 0.01, "ndcg_at_5": 0.01, "r2": 0.02}
    assert row.reviews_until is not None and row.metrics["ranking"]["neural"]["groups"] > 0
    # Published where the workers look.
    assert _published() == row.version and active_version_read(models_dir) == row.version


def test_it_refuses_a_worse_candidate_and_keeps_the_champion(marketplace, models_dir) -> None:
    champion = train(activate=True).version
    add_review()

    result = model_retrain(owner="test", epochs=1)  # a candidate that has barely trained

    assert result["status"] == "rejected", result
    candidate = ModelVersion.objects.get(version=result["version"])
    assert candidate.status == Status.REJECTED and candidate.promoted_at is None
    assert ModelVersion.objects.get(version=champion).status == Status.ACTIVE
    d = candidate.decision
    assert d["verdict"] == "reject" and d["champion_version"] == champion
    worse = [c for c in d["comparisons"] if c["ok"] is False]
    assert worse, d
    for c in worse:
        assert c["champion"] - c["candidate"] > c["tolerance"]
        assert c["metric"] in d["reason"]
    # Both were scored on the same validation slice, recorded with the decision.
    assert d["validation"]["val_samples"] > 0 and d["validation"]["ranking_rows"] > 0
    assert _published() == champion and active_version_read(models_dir) == champion


def test_it_promotes_a_first_model_only_if_it_beats_the_rule_based_scorer(marketplace) -> None:
    result = model_retrain(owner="test")

    assert result["status"] == "promoted", result
    d = ModelVersion.objects.get(version=result["version"]).decision
    assert d["champion_version"] is None
    assert d["candidate"]["pairwise_accuracy"] > d["rule_based"]["pairwise_accuracy"]
    assert "beats the rule-based" in d["reason"]


def test_it_skips_when_nothing_new_arrived(marketplace) -> None:
    first = model_retrain(owner="test")
    assert first["status"] == "promoted"

    again = model_retrain(owner="test")

    assert again["status"] == "skipped"
    assert "no new completed jobs with reviews and no new applied feedback" in again["detail"]
    assert ModelVersion.objects.count() == 1
    add_review()
    assert model_retrain(owner="test")["status"] in ("promoted", "rejected")
    assert ModelVersion.objects.count() == 2


def test_it_refuses_a_second_retrain_while_one_holds_the_lock(marketplace, caplog) -> None:
    assert registry.retrain_lock_acquire(owner="running-task")

    result = model_retrain(owner="second-task")

    assert result["status"] == "locked"
    assert "running-task" in result["detail"]
    assert "already queued or running" in caplog.text
    assert ModelVersion.objects.count() == 0
    assert registry.retrain_lock_holder() == "running-task"  # the refused run left the lock alone


def test_it_keeps_the_lock_above_the_task_hard_time_limit() -> None:
    from workers.tasks.training import RETRAIN_HARD_LIMIT, retrain

    assert retrain.time_limit == RETRAIN_HARD_LIMIT
    assert registry.RETRAIN_LOCK_TTL > RETRAIN_HARD_LIMIT


def test_it_retrains_through_the_api_and_the_trainer_worker(marketplace, trainer, api_client) -> None:
    authenticate(api_client, f.operator())

    first = api_client.post("/api/v1/models/retrain/", {}, format="json")
    second = api_client.post("/api/v1/models/retrain/", {}, format="json")

    assert first.status_code == 202, first.content
    assert second.status_code == 409, second.content
    assert second["Content-Type"] == "application/problem+json"
    assert first.json()["task_id"] in second.json()["detail"]
    outcome = app.AsyncResult(first.json()["task_id"]).get(timeout=60)
    assert outcome["status"] == "promoted", outcome
    rows = api_client.get(first.json()["status_url"]).json()["results"]
    assert [r["version"] for r in rows] == [outcome["version"]]
    assert rows[0]["status"] == "active" and rows[0]["promoted_by"] is None
    wait_until(lambda: registry.retrain_lock_holder() is None, what="the lock released")

    # Nothing new since: the trainer skips, and says so in the task's result.
    third = api_client.post("/api/v1/models/retrain/", {}, format="json")
    assert third.status_code == 202
    outcome = app.AsyncResult(third.json()["task_id"]).get(timeout=30)
    assert outcome["status"] == "skipped", outcome
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize("role", ["client", "cleaner"])
def test_it_lets_only_operators_retrain(api_client, role) -> None:
    authenticate(api_client, f.user(role))
    resp = api_client.post("/api/v1/models/retrain/", {}, format="json")
    assert resp.status_code == 403
    assert resp["Content-Type"] == "application/problem+json"
    assert registry.retrain_lock_holder() is None


def test_it_retrains_from_the_admin_button(marketplace, trainer, client) -> None:
    client.force_login(f.user("operator", is_staff=True, is_superuser=True))
    assert client.get("/admin/recommendations/modelversion/retrain/").status_code == 405  # POST only

    resp = client.post("/admin/recommendations/modelversion/retrain/", follow=True)

    assert resp.status_code == 200 and b"Retrain queued" in resp.content
    task_id = registry.retrain_lock_holder()
    assert task_id and task_id.encode() in resp.content
    again = client.post("/admin/recommendations/modelversion/retrain/", follow=True)
    assert b"Not queued: a retrain is already queued or running" in again.content
    assert app.AsyncResult(task_id).get(timeout=60)["status"] == "promoted"
