"""The bare baselines the figures sit next to, measured in the same run on the same machine.

- a forward pass of the network for 200 rows, in the scoring probe's process (next to predict());
- a no-op Celery task's round trip (next to the end-to-end loop);
- an HTTP round trip to /healthz, same client and server (next to the cached answer);
- a Redis PING (a cached answer makes one Redis call).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scripts.bench.harness import exchange, percentile, timings_ms

if TYPE_CHECKING:
    from scripts.bench.harness import WebAndWorker
    from scripts.bench.report import Report


def forward_pass_ms(network: Any, *, rows: int, width: int) -> list[float]:
    """The network (a torch module) alone on `rows` zero rows of `width` features: no id lookup, no normalisation."""
    import torch  # only the scoring probe's process has it loaded

    def forward() -> None:
        with torch.inference_mode():
            network(
                torch.zeros(rows, dtype=torch.long),
                torch.zeros(rows, dtype=torch.long),
                torch.ones(rows),
                torch.zeros(rows, width),
            )

    return timings_ms(forward, warmup=20)


@dataclass
class NetworkBaselines:
    celery: list[float]
    http: list[float]
    redis: list[float]


def _is_ok(answer: tuple[int, bytes]) -> None:
    assert answer[0] == 200, answer


def measure_network(processes: WebAndWorker) -> NetworkBaselines:
    """300 no-op Celery tasks, 300 GET /healthz on a new connection each, 300 Redis PINGs."""
    from app.common.redis_client import client  # Django is set up by now
    from workers import names

    celery = timings_ms(lambda: processes.app.send_task(names.PING).get(timeout=10))
    http = timings_ms(lambda: exchange("GET", f"{processes.base}/healthz"), check=_is_ok)
    redis = timings_ms(lambda: client().ping())
    return NetworkBaselines(celery=celery, http=http, redis=redis)


def report_network(report: Report, b: NetworkBaselines) -> None:
    report.record(
        "  bare HTTP round trip to /healthz, same client and server (baseline)",
        f"{statistics.median(b.http):.2f} ms median",
        f"(p99 {percentile(b.http, 0.99):.2f} ms)",
    )
    report.record(
        "  bare Celery round trip, no-op task (baseline)",
        f"{statistics.median(b.celery):.2f} ms median",
        f"(p99 {percentile(b.celery, 0.99):.2f} ms)",
    )
    report.record(
        "  bare Redis round trip, PING (baseline: a cached answer makes one Redis call)",
        f"{statistics.median(b.redis):.2f} ms median",
        f"(p99 {percentile(b.redis, 0.99):.2f} ms)",
    )
