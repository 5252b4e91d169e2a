"""Activation: the API's roles and refusals, rollback followed by a real worker, hot reload under load."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from app.common.redis_client import client as redis
from app.marketplace.models import CleaningJob
from app.recommendations import registry
from app.recommendations.model_pointer import ACTIVE_KEY, active_version_read
from app.recommendations.models import CleanerRecommendation, ModelVersion, RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate
from tests.support.training import train
from tests.support.waiting import wait_until
from workers.ml.store import metadata_path, weights_path
from workers.recommend.model_manager import ModelManager
from workers.training.versions import model_files_check_local

# Each test leaves no model pointer behind: the tests after it see rule-based.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_pointers")]

Status = ModelVersion.Status


def _published() -> str | None:
    value = redis().get(ACTIVE_KEY)
    return value.decode() if value else None


def _open_job() -> CleaningJob:
    return CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).order_by("pk").first()


def _recommend(api: APIClient, job: CleaningJob, limit: int) -> dict:
    """POST, wait for the worker's answer, and return it with the version its rows recorded."""
    resp = api.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": limit}, format="json")
    assert resp.status_code == 202, resp.content
    body = api.get(resp.json()["status_url"], {"wait": 20}).json()
    assert body["status"] == "succeeded", body
    wait_until(lambda: RecommendationRequest.objects.get(pk=body["id"]).status == "succeeded", what="rows stored")
    versions = set(CleanerRecommendation.objects.filter(request_id=body["id"]).values_list("model_version", flat=True))
    assert len(versions) == 1, versions  # one request, one model
    return {**body, "rows_version": versions.pop()}


# Roles and refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "cleaner"])
def test_it_lets_only_operators_see_and_activate(api_client, role) -> None:
    ModelVersion.objects.create(version="1.0")
    authenticate(api_client, f.user(role))
    for resp in (api_client.get("/api/v1/models/"), api_client.post("/api/v1/models/1.0/activate/")):
        assert resp.status_code == 403
        assert resp["Content-Type"] == "application/problem+json"
        assert resp.json()["status"] == 403
    assert ModelVersion.objects.get(version="1.0").status == Status.CANDIDATE


def test_it_asks_for_a_token(api_client) -> None:
    assert api_client.get("/api/v1/models/").status_code == 401
    assert api_client.post("/api/v1/models/1.0/activate/").status_code == 401


def test_it_lists_versions_newest_first_with_their_metrics(marketplace, api_client) -> None:
    older, newer = train(), train(activate=True)
    resp = authenticate(api_client, f.operator()).get("/api/v1/models/", {"limit": 1})
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 2 and body["next"]
    row = body["results"][0]
    assert row["version"] == newer.version and row["status"] == "active"
    assert row["summary"]["pairwise_accuracy"] == pytest.approx(
        newer.evaluation["ranking"]["ensemble"]["pairwise_accuracy"]
    )
    assert row["summary"]["r2"] == pytest.approx(newer.evaluation["r2"])
    assert row["decision"]["reason"] == "activated by the training command"
    assert set(row["baseline"]["rates"]) == {"job_view_to_bid", "job_bid_to_accepted", "cleaner_view_to_hire"}
    assert api_client.get(body["next"]).json()["results"][0]["version"] == older.version


def test_it_answers_404_for_an_unknown_version(api_client) -> None:
    authenticate(api_client, f.operator())
    for version in ("9.9", "x" * 40, "..%2F..%2Fetc", "1.0%00", "%00"):  # NUL: PostgreSQL cannot compare it
        resp = api_client.post(f"/api/v1/models/{version}/activate/")
        assert resp.status_code == 404, (version, resp.content)
        assert resp["Content-Type"] == "application/problem+json"


def test_it_refuses_files_a_worker_would_refuse(marketplace, celery_worker, api_client, models_dir) -> None:
    serving = train(activate=True).version
    corrupt, missing = train().version, train().version
    weights = weights_path(models_dir, corrupt)
    weights.write_bytes(weights.read_bytes()[:-64] + b"\0" * 64)
    metadata_path(models_dir, missing).unlink()
    authenticate(api_client, f.operator())

    for version, why in ((corrupt, "sha256"), (missing, "does not exist")):
        resp = api_client.post(f"/api/v1/models/{version}/activate/")
        assert resp.status_code == 409, resp.content
        assert resp["Content-Type"] == "application/problem+json"
        assert why in resp.json()["detail"]
        assert ModelVersion.objects.get(version=version).status == Status.CANDIDATE

    assert ModelVersion.objects.get(version=serving).status == Status.ACTIVE
    assert _published() == serving and active_version_read(models_dir) == serving


# Rollback and hot reload through a real worker ----------------------------------------------------


def test_it_rolls_back_through_the_api_and_the_worker_follows(marketplace, celery_worker, api_client) -> None:
    first = train(activate=True).version
    second = train(seed=4).version
    job = _open_job()
    operator, owner = APIClient(), authenticate(api_client, job.client.user)
    authenticate(operator, f.operator())

    resp = operator.post(f"/api/v1/models/{second}/activate/")
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "active" and resp.json()["promoted_by"]
    assert _recommend(owner, job, limit=3)["rows_version"] == second

    resp = operator.post(f"/api/v1/models/{first}/activate/")  # rollback

    assert resp.status_code == 200, resp.content
    assert resp.json()["version"] == first and resp.json()["status"] == "active"
    assert f"(was {second})" in ModelVersion.objects.get(version=first).decision["reason"]
    served = _recommend(owner, job, limit=4)
    assert served["rows_version"] == first and served["result"]["model_version"] == first
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {first: Status.ACTIVE, second: Status.RETIRED}


def test_it_swaps_models_under_concurrent_requests_without_a_failure(marketplace, celery_worker) -> None:
    old, new = train(activate=True).version, train(seed=4).version
    job = _open_job()
    assert _recommend(authenticate(APIClient(), job.client.user), job, limit=1)["rows_version"] == old

    limits = iter(range(2, 101))  # a distinct limit per request: no answer comes from the cache
    lock, activated = threading.Lock(), threading.Event()
    served: list[tuple[bool, dict]] = []
    errors: list[BaseException] = []

    def fire() -> None:
        api = authenticate(APIClient(), job.client.user)
        after = 0
        try:
            while after < 3:
                with lock:
                    limit = next(limits, None)
                if limit is None:
                    return
                posted_after = activated.is_set()
                served.append((posted_after, _recommend(api, job, limit)))
                after += posted_after
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(served) >= 6, what="requests before the swap")
    resp = authenticate(APIClient(), f.operator()).post(f"/api/v1/models/{new}/activate/")
    assert resp.status_code == 200, resp.content
    activated.set()
    for t in threads:
        t.join(60)

    assert not errors, errors
    bodies = [body for _, body in served]
    before = [body for posted_after, body in served if not posted_after]
    after = [body for posted_after, body in served if posted_after]
    assert len(after) >= 12 and before
    assert {s["rows_version"] for s in bodies} <= {old, new}
    assert all(s["rows_version"] == s["result"]["model_version"] for s in bodies)
    # Every request sent once the activation answered was served by the new version.
    assert {s["rows_version"] for s in after} == {new}
    print(
        f"\n{len(bodies)} requests, {len(before)} before the swap "
        f"({sum(s['rows_version'] == new for s in before)} of them already on the new version)"
    )


# What the worker reads -------------------------------------------------------------------------


def test_it_prefers_the_registry_key_falls_back_to_the_file_and_keeps_a_model_that_loads(
    marketplace, models_dir
) -> None:
    a, b = train().version, train(seed=4).version
    from app.recommendations.model_pointer import active_version_write

    active_version_write(a, models_dir)
    manager = ModelManager()
    assert manager.refresh() and manager.version == a

    redis().set(ACTIVE_KEY, b)
    assert manager.refresh() and manager.version == b  # the key wins over the file

    redis().set(ACTIVE_KEY, "no-such-version")
    assert manager.refresh() and manager.version == b  # a version that cannot load: keep serving b
    assert "does not exist" in manager.last_error

    redis().delete(ACTIVE_KEY)
    assert manager.refresh() and manager.version == a  # no key: the ACTIVE file
    assert ModelManager(models_dir).follow_registry is False


def test_it_writes_the_pointer_file_from_the_registry_on_a_worker(marketplace, celery_worker, models_dir) -> None:
    from workers import names
    from workers.celery import app

    version = train(activate=True).version
    (models_dir / "ACTIVE").unlink()
    redis().delete(ACTIVE_KEY)

    assert app.send_task(names.MODEL_POINTER_SYNC).get(timeout=20) == version

    assert active_version_read(models_dir) == version and _published() == version


def test_it_activates_from_the_admin(marketplace, celery_worker, client, models_dir) -> None:
    first, second = train(activate=True).version, train(seed=4).version
    admin = f.user("operator", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/admin/recommendations/modelversion/")
    assert page.status_code == 200 and b"Retrain now" in page.content

    resp = client.post(
        "/admin/recommendations/modelversion/",
        {
            "action": "activate_version",
            "_selected_action": [ModelVersion.objects.get(version=second).pk],
        },
        follow=True,
    )

    assert resp.status_code == 200
    assert f"Version {second} is active".encode() in resp.content
    row = ModelVersion.objects.get(version=second)
    assert row.status == Status.ACTIVE and row.promoted_by == admin
    assert ModelVersion.objects.get(version=first).status == Status.RETIRED
    assert _published() == second and active_version_read(models_dir) == second


def test_it_keeps_one_active_version_under_concurrent_activations(marketplace, models_dir) -> None:
    versions = [train(seed=seed).version for seed in (3, 4, 5)]
    errors: list[BaseException] = []

    def activate(version: str) -> None:
        try:
            for _ in range(5):
                registry.model_version_activate(version=version, by=None, check_files=model_files_check_local)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=activate, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert not errors, errors
    active = ModelVersion.objects.get(status=Status.ACTIVE)  # exactly one
    assert ModelVersion.objects.filter(status=Status.RETIRED).count() == 2
    # The pointers agree with the registry: whoever committed last also published last.
    assert _published() == active.version == active_version_read(models_dir)


def test_it_changes_nothing_when_redis_cannot_be_told(
    marketplace, celery_worker, api_client, models_dir, monkeypatch
) -> None:
    import redis as redis_lib

    serving, other = train(activate=True).version, train(seed=4).version
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(registry, "client", lambda: dead)

    resp = authenticate(api_client, f.operator()).post(f"/api/v1/models/{other}/activate/")

    assert resp.status_code == 503, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    assert dict(ModelVersion.objects.values_list("version", "status")) == {serving: "active", other: "candidate"}
    monkeypatch.undo()
    assert _published() == serving and active_version_read(models_dir) == serving
