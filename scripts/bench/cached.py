"""The cached answer: the same question asked again, answered 200 from the cache.

Timed as the bare HTTP baseline is (baselines.measure_network): the exchange itself, on a new
connection each time; decoding the answer is the client's own work, checked untimed.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import TYPE_CHECKING

from scripts.bench.harness import exchange, http_json, percentile, timings_ms

if TYPE_CHECKING:
    from scripts.bench.end_to_end import Endpoint
    from scripts.bench.report import Report


def _is_cached(answer: tuple[int, bytes]) -> None:
    status, body = answer
    assert status == 200 and json.loads(body)["cached"], body


def measure(endpoint: Endpoint) -> list[float]:
    """300 POSTs of the question the uncached loop asked last, once it is computed and cached."""
    http_json("POST", endpoint.url, endpoint.token, {"limit": 10})  # computed and cached once more
    time.sleep(0.5)
    question = json.dumps({"limit": 10}).encode()
    return timings_ms(lambda: exchange("POST", endpoint.url, endpoint.token, question), check=_is_cached)


def report_cached(report: Report, timings: list[float]) -> None:
    # No absolute target any more: the cached answer's targets are ratios to the bare baselines
    # of the same run (throughput.py: <= 1.5x one client's /healthz, >= 70% of its throughput).
    median = statistics.median(timings)
    report.record(
        "cached answer: POST answered 200 from the cache, new connection each",
        f"{median:.2f} ms median",
        f"(p99 {percentile(timings, 0.99):.2f} ms; targets: the throughput rows; the guide: 5-10 ms)",
    )
