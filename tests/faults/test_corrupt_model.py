"""(f) A corrupt model file activated under traffic: no request fails; the worker keeps what it served.

The registry's pointer (the Redis key the workers follow) is set to a version whose files are
garbage, or whose metadata is not what this code reads, as a disk error or a
half-copied file would leave them. Each worker process refuses it, logs why, and keeps serving
(rule-based here: no model was active before).
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from app.recommendations.model_pointer import ACTIVE_KEY
from tests.support.stack import Stack, Traffic
from workers import names

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def _corrupt_versions(stack: Stack) -> list[str]:
    models = stack.tmp / "models"
    (models / names.model_metadata_file("garbage-1")).write_bytes(b"\x00\xffnot json{")
    (models / names.model_weights_file("garbage-1")).write_bytes(b"\x00" * 100)
    metadata = {"format": 1, "weights_sha256": "0" * 64, "features": {}}
    (models / names.model_metadata_file("tampered-1")).write_text(json.dumps(metadata))
    (models / names.model_weights_file("tampered-1")).write_bytes(b"PK\x03\x04 truncated")
    return ["garbage-1", "tampered-1"]


def test_a_corrupt_model_activated_under_traffic_fails_no_request(stack: Stack) -> None:
    pointer = redis.Redis.from_url(stack.redis.url())
    traffic = Traffic(stack, threads=3).start()
    try:
        for version in _corrupt_versions(stack):
            time.sleep(3)
            pointer.set(ACTIVE_KEY, version)  # what activating it in the registry publishes
        time.sleep(4)
    finally:
        traffic.stop()

    outcome = stack.check(traffic)

    assert outcome["requests"] > 20, outcome["answers"]
    assert outcome["failed"] == {}
    log = stack.worker_log(tail=None)
    assert "refusing model garbage-1" in log and "refusing model tampered-1" in log
