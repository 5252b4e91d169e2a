"""The web's /metrics: who may read it, and what a scrape reports after real requests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
import redis
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from app.common.redis_client import client as redis_client
from app.observability import collectors
from app.recommendations.model_pointer import ACTIVE_KEY, active_version_write
from app.recommendations.models import ModelVersion, RecommendationFeedback, RecommendationRequest
from tests import factories as f
from tests.support import ROOT
from tests.support.auth import authenticate
from workers.names import Queue

pytestmark = pytest.mark.django_db


def scrape(client, **extra) -> dict:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict, family: str, sample: str, **labels: str) -> float | None:
    for s in families[family].samples if family in families else []:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


# Access ------------------------------------------------------------------------------------


def test_it_serves_the_scraper_on_localhost(client) -> None:
    assert "recsvc_queue_depth" in scrape(client)
    assert "recsvc_queue_depth" in scrape(client, REMOTE_ADDR="::1")
    assert "recsvc_queue_depth" in scrape(client, REMOTE_ADDR="::ffff:127.0.0.1")


def test_it_refuses_other_addresses_with_a_problem(client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 403
    assert b"recsvc_" not in response.content


def test_it_refuses_what_came_through_a_proxy_even_from_localhost(client) -> None:
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics", HTTP_FORWARDED="for=203.0.113.9").status_code == 403


def test_it_admits_the_bearer_token_from_anywhere(client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    remote = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", **remote).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **remote).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token", **remote).status_code == 403
    assert client.get("/metrics", **remote).status_code == 403


def test_it_admits_a_configured_network(client, settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics").status_code == 403, "loopback is only allowed while listed"


def test_it_reports_a_bad_network_setting_as_a_system_check(settings) -> None:
    from app.observability.checks import metrics_networks_check

    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8", "not-a-network"]
    [error] = metrics_networks_check(None)
    assert error.id == "observability.E001" and "not-a-network" in error.msg


def test_it_only_answers_get(client) -> None:
    assert client.post("/metrics").status_code == 405


# Request latency ---------------------------------------------------------------------------


def test_it_times_requests_under_the_route_name_not_the_path(client) -> None:
    route = "recommendation-request-detail"
    before = (
        value(
            scrape(client),
            "recsvc_http_request_duration_seconds",
            "recsvc_http_request_duration_seconds_count",
            route=route,
            method="GET",
            status="401",
        )
        or 0
    )
    for _ in range(3):
        assert client.get(f"/api/v1/recommendation-requests/{uuid.uuid4()}/").status_code == 401
    client.get(f"/scanner/{uuid.uuid4()}")
    client.get("/static/nothing-here.css")
    client.generic("BREW", "/api/v1/")

    families = scrape(client)
    labels = {"route": route, "method": "GET", "status": "401"}
    count = value(
        families, "recsvc_http_request_duration_seconds", "recsvc_http_request_duration_seconds_count", **labels
    )
    assert count == before + 3
    buckets = [
        s
        for s in families["recsvc_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and all(s.labels[k] == v for k, v in labels.items())
    ]
    assert len(buckets) >= 10 and buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == count
    assert [b.value for b in buckets] == sorted(b.value for b in buckets), "buckets are cumulative"
    routes = {s.labels["route"] for s in families["recsvc_http_request_duration_seconds"].samples}
    assert {"<unmatched>", "<static>"} <= routes
    assert not any("scanner" in r or "/" in r for r in routes), f"paths leaked into labels: {routes}"
    methods = {s.labels["method"] for s in families["recsvc_http_request_duration_seconds"].samples}
    assert "OTHER" in methods and "BREW" not in methods


# Cache --------------------------------------------------------------------------------------


def test_it_counts_cache_misses_and_hits(client, api_client) -> None:
    from app.recommendations.cache import cache_put

    job = f.job()
    authenticate(api_client, job.client.user)
    families = scrape(client)
    hits = (
        value(
            families, "recsvc_recommendation_cache_lookups", "recsvc_recommendation_cache_lookups_total", result="hit"
        )
        or 0
    )
    misses = (
        value(
            families, "recsvc_recommendation_cache_lookups", "recsvc_recommendation_cache_lookups_total", result="miss"
        )
        or 0
    )

    first = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 3}, format="json")
    assert first.status_code == 202
    request = RecommendationRequest.objects.get(pk=first.json()["id"])
    assert request.cache_key, "the request should be cacheable"
    cache_put(request.cache_key, {"id": str(request.id), "status": "succeeded", "result": {"cleaners": []}})
    second = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 3}, format="json")
    assert second.status_code == 200 and second.json()["cached"] is True

    families = scrape(client)
    assert (
        value(
            families, "recsvc_recommendation_cache_lookups", "recsvc_recommendation_cache_lookups_total", result="miss"
        )
        == misses + 1
    )
    assert (
        value(
            families, "recsvc_recommendation_cache_lookups", "recsvc_recommendation_cache_lookups_total", result="hit"
        )
        == hits + 1
    )


# Computed at scrape time ------------------------------------------------------------------------


def test_it_reports_every_queues_depth(client) -> None:
    families = scrape(client)
    depths = {s.labels["queue"]: s.value for s in families["recsvc_queue_depth"].samples}
    assert set(depths) == {q.value for q in Queue}
    assert all(v >= 0 and v == int(v) for v in depths.values())
    assert value(families, "recsvc_scrape_source_up", "recsvc_scrape_source_up", source="redis") == 1


def test_it_counts_a_queues_messages_of_every_priority() -> None:
    name = f"test-queue-{uuid.uuid4().hex}"
    keys = [name, f"{name}\x06\x163", f"{name}\x06\x169"]
    r = redis_client()
    try:
        r.lpush(keys[0], "a", "b")
        r.lpush(keys[1], "c")
        r.lpush(keys[2], "d")
        assert collectors.queue_depths([name]) == {name: 4}
    finally:
        r.delete(*keys)


def test_it_reports_the_registrys_active_model(client) -> None:
    ModelVersion.objects.create(version="7.1", status=ModelVersion.Status.RETIRED)
    ModelVersion.objects.create(version="7.2", status=ModelVersion.Status.ACTIVE)
    samples = scrape(client)["recsvc_model_active_info"].samples
    assert [(s.labels, s.value) for s in samples] == [({"version": "7.2"}, 1.0)]


def test_it_falls_back_to_the_published_pointer_then_the_active_file(client, settings, tmp_path) -> None:
    settings.RECOMMENDATION_MODELS_DIR = tmp_path
    r = redis_client()
    saved = r.get(ACTIVE_KEY)
    try:
        r.delete(ACTIVE_KEY)
        assert scrape(client)["recsvc_model_active_info"].samples == []
        active_version_write("3.0", tmp_path)
        assert [s.labels["version"] for s in scrape(client)["recsvc_model_active_info"].samples] == ["3.0"]
        r.set(ACTIVE_KEY, "3.1")
        assert [s.labels["version"] for s in scrape(client)["recsvc_model_active_info"].samples] == ["3.1"]
    finally:
        r.delete(ACTIVE_KEY) if saved is None else r.set(ACTIVE_KEY, saved)


def test_it_reports_the_age_of_the_oldest_unapplied_feedback(client) -> None:
    families = scrape(client)
    assert value(families, "recsvc_feedback_lag_seconds", "recsvc_feedback_lag_seconds") == 0
    assert value(families, "recsvc_feedback_pending", "recsvc_feedback_pending") == 0

    user, now = f.user(), timezone.now()
    for i, (age, applied) in enumerate([(600, True), (120, False), (5, False)]):
        row = RecommendationFeedback.objects.create(
            user=user, idempotency_key=f"k{i}", event="viewed", occurred_at=now, applied_at=now if applied else None
        )
        RecommendationFeedback.objects.filter(pk=row.pk).update(received_at=now - timedelta(seconds=age))

    families = scrape(client)
    assert 120 <= value(families, "recsvc_feedback_lag_seconds", "recsvc_feedback_lag_seconds") < 180
    assert value(families, "recsvc_feedback_pending", "recsvc_feedback_pending") == 2


def test_it_still_answers_when_a_source_is_down(client, monkeypatch) -> None:
    def down(*args, **kwargs):
        raise redis.ConnectionError("down")

    def db_down(*args, **kwargs):
        raise DatabaseError("down")

    monkeypatch.setattr(collectors, "queue_depths", down)
    monkeypatch.setattr(collectors, "feedback_backlog", db_down)
    families = scrape(client)
    assert value(families, "recsvc_scrape_source_up", "recsvc_scrape_source_up", source="redis") == 0
    assert value(families, "recsvc_scrape_source_up", "recsvc_scrape_source_up", source="database") == 0
    assert "recsvc_queue_depth" not in families and "recsvc_feedback_lag_seconds" not in families
    assert "recsvc_http_request_duration_seconds" in families


# gunicorn's several processes ------------------------------------------------------------------

MULTIPROCESS_PROBE = r"""
import os, sys
import django
django.setup()
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from app.observability import metrics

children = []
for n in range(3):
    pid = os.fork()
    if pid == 0:  # a gunicorn worker: records one request per process, then exits
        metrics.request_observe(route="probe", method="GET", status=200, seconds=0.002 * (n + 1))
        metrics.cache_lookup_record(hit=True)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
text = generate_latest(metrics.scrape_registry()).decode()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        if s.name in ("recsvc_http_request_duration_seconds_count", "recsvc_recommendation_cache_lookups_total"):
            print(s.name, s.value)
"""


def test_it_adds_up_every_gunicorn_process_in_multiprocess_mode(tmp_path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "recsvc_http_request_duration_seconds_count 3.0" in out.stdout, out.stdout
    assert "recsvc_recommendation_cache_lookups_total 3.0" in out.stdout, out.stdout
    assert len(list(tmp_path.glob("*.db"))) >= 3, "one file per process"
