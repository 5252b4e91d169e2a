"""Step 5: end to end over HTTP, uncached: POST a request, GET ?wait for the result.

Through gunicorn and a real Celery worker (harness.WebAndWorker), 300 times after 20 to warm the
web. The first request after a worker starts is measured apart (cold start, 5 fresh workers),
and so is the same loop with Celery task events on (what a worker does while Flower watches it).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scripts.bench.harness import PY, ROOT, http_json, percentile

if TYPE_CHECKING:
    from scripts.bench.harness import WebAndWorker
    from scripts.bench.report import Report


def client_token(env: dict, user_id: int) -> str:
    """The API token of the bench job's client, made in a process of its own (this one has no Django yet)."""
    code = (
        "import django; django.setup();from rest_framework.authtoken.models import Token;"
        f"print(Token.objects.get_or_create(user_id={user_id})[0].key)"
    )
    return subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass
class Endpoint:
    """The bench job's recommendations, as its client asks for them; the POSTs' times are kept."""

    base: str
    job_id: int
    token: str
    posts: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}/api/v1/jobs/{self.job_id}/recommendations/"

    def uncached_round_trip_ms(self) -> float:
        from app.recommendations.cache import generation_bump  # Django is set up by now

        generation_bump(f"job:{self.job_id}")  # uncached: a new question every time
        t = time.perf_counter()
        status, body = http_json("POST", self.url, self.token, {"limit": 10})
        assert status == 202, body
        self.posts.append((time.perf_counter() - t) * 1000)
        _, done = http_json("GET", body["status_url"] + "?wait=10", self.token)
        assert done["status"] == "succeeded", done
        return (time.perf_counter() - t) * 1000


@dataclass
class Uncached:
    round_trips: list[float]
    post_median: float
    cold: float  # the median of 5 first requests, each to a fresh worker


def measure(processes: WebAndWorker, endpoint: Endpoint) -> Uncached:
    for _ in range(20):
        endpoint.uncached_round_trip_ms()  # warm the web process (its threads' database connections, URL conf)
    # Cold starts: the first request to each of 5 fresh worker processes, against the warm web.
    colds = []
    for _ in range(5):
        processes.restart_worker()
        colds.append(endpoint.uncached_round_trip_ms())
    endpoint.posts.clear()
    round_trips = [endpoint.uncached_round_trip_ms() for _ in range(300)]
    return Uncached(
        round_trips=round_trips, post_median=statistics.median(endpoint.posts), cold=statistics.median(colds)
    )


def measure_with_task_events(processes: WebAndWorker, endpoint: Endpoint) -> list[float]:
    """The same loop on a fresh worker that sends task events, as Flower switches them on."""
    processes.restart_worker("--task-events")
    for _ in range(20):
        endpoint.uncached_round_trip_ms()
    return [endpoint.uncached_round_trip_ms() for _ in range(300)]


def report_uncached(report: Report, r: Uncached) -> None:
    median, p99 = statistics.median(r.round_trips), percentile(r.round_trips, 0.99)
    report.verdict("end to end <= 15 ms median", f"{median:.1f} ms", median <= 15)
    report.verdict("end to end <= 50 ms p99", f"{p99:.1f} ms", p99 <= 50)
    report.verdict(
        "cold first request as fast as the next ones (within the warm p99)", f"{r.cold:.1f} ms", r.cold <= p99
    )
    report.record(
        "end to end POST -> GET ?wait, 200 candidates, uncached",
        f"{median:.1f} ms median",
        f"(p99 {p99:.1f} ms; target <= 15 ms median, <= 50 ms p99)",
    )
    report.record("  of which the POST, answered 202 (request stored, task enqueued)", f"{r.post_median:.1f} ms median")
    report.record(
        "  first request after a worker started (cold), median of 5 restarts",
        f"{r.cold:.1f} ms",
        "(target: as fast as the next ones; the guide: 500-800 ms)",
    )


def report_task_events(report: Report, round_trips: list[float]) -> None:
    report.record(
        "  the same with Celery task events on (as while Flower watches the workers)",
        f"{statistics.median(round_trips):.1f} ms median",
        f"(p99 {percentile(round_trips, 0.99):.1f} ms)",
    )
