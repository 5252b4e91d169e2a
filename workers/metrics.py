"""The worker's Prometheus metrics: task durations, failures and retries, served on its own port.

Tasks run in prefork children, but one port can belong to one process only. So every process
records into files in a private directory (prometheus_client's multiprocess mode), and the
main process serves the sum of them on `WORKER_METRICS_PORT` (default 9808; 0 turns all of
this off) at `WORKER_METRICS_ADDR`. Two workers on one host need two ports.

Order matters, and Celery's signals give it: the task modules (and this one) are imported,
then `worker_init` fires in the main process, where we pick the directory and create the
metrics before prometheus_client is first used; then the pool forks its children, which
inherit both; `worker_ready` starts the HTTP server once the worker consumes.

The directory is `WORKER_METRICS_DIR` if set (emptied at start: it must be this worker's
alone), else a new temporary one removed at shutdown. A replaced child's files stay, so its
counts are not lost; with `--max-tasks-per-child=1` (the trainer) that is one small file per
retrain.

Metrics: `recsvc_task_duration_seconds{task,queue}` (histogram, every finished run),
`recsvc_task_runs_total{task,queue,state}` (SUCCESS, FAILURE, RETRY...),
`recsvc_task_failures_total{task,queue}`, `recsvc_task_retries_total{task,queue}`.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery.signals import (
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_init,
    worker_ready,
    worker_shutdown,
)

from workers.names import TASK_QUEUES

logger = logging.getLogger(__name__)

# From a ping (1 ms) to a retrain (many minutes).
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
)


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        labels = ["task", "queue"]
        self.duration = Histogram(
            "recsvc_task_duration_seconds",
            "Time a task took to run, per task name and queue.",
            labels,
            buckets=DURATION_BUCKETS,
        )
        self.runs = Counter("recsvc_task_runs", "Finished task runs by final state.", [*labels, "state"])
        self.failures = Counter("recsvc_task_failures", "Task runs that raised, per task name and queue.", labels)
        self.retries = Counter("recsvc_task_retries", "Task runs that asked to be retried.", labels)


_metrics: _Metrics | None = None
_directory: Path | None = None
_owns_directory = False
_started: dict[str, float] = {}  # task id -> perf_counter at prerun, in the process running it


def _multiprocess_directory() -> tuple[Path, bool]:
    """(directory, whether we created it and so remove it at shutdown)."""
    configured = os.environ.get("WORKER_METRICS_DIR")
    if configured:
        path = Path(configured)
        shutil.rmtree(path, ignore_errors=True)  # counts of a previous run must not add up
        path.mkdir(parents=True, exist_ok=True)
        return path, False
    return Path(tempfile.mkdtemp(prefix="recsvc-worker-metrics-")), True


@worker_init.connect(dispatch_uid="workers.metrics.init")
def _on_worker_init(**kwargs: Any) -> None:
    global _metrics, _directory, _owns_directory
    from django.conf import settings

    if not settings.WORKER_METRICS_PORT:
        return
    _directory, _owns_directory = _multiprocess_directory()
    # Overrides a value inherited from the web's environment: this directory is the worker's.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_directory)
    if "prometheus_client.values" in sys.modules:
        # Something imported prometheus_client before the variable was set, which fixed the
        # value class to the in-memory one; choose again, as its import would have.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    _metrics = _Metrics()


@worker_ready.connect(dispatch_uid="workers.metrics.serve")
def _on_worker_ready(**kwargs: Any) -> None:
    from django.conf import settings
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    if _metrics is None:
        return
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(_directory))
    try:
        start_http_server(settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDR, registry=registry)
    except OSError as exc:  # a metrics port in use must not keep the worker from working
        logger.error(
            "worker metrics: cannot listen on %s:%s (%s); set WORKER_METRICS_PORT to a free port or 0",
            settings.WORKER_METRICS_ADDR,
            settings.WORKER_METRICS_PORT,
            exc,
        )
        return
    logger.info(
        "worker metrics on http://%s:%s/metrics, from %s",
        settings.WORKER_METRICS_ADDR,
        settings.WORKER_METRICS_PORT,
        _directory,
        extra={"directory": str(_directory)},
    )


@worker_shutdown.connect(dispatch_uid="workers.metrics.shutdown")
def _on_worker_shutdown(**kwargs: Any) -> None:
    if _owns_directory and _directory is not None:
        shutil.rmtree(_directory, ignore_errors=True)


def _labels(task: Any) -> dict[str, str]:
    name = getattr(task, "name", None) or "unknown"
    delivery = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    queue = delivery.get("routing_key") or str(TASK_QUEUES.get(name, "unknown"))
    return {"task": name, "queue": queue}


@task_prerun.connect(dispatch_uid="workers.metrics.prerun")
def _on_prerun(task_id: str = "", **kwargs: Any) -> None:
    if _metrics is not None:
        _started[task_id] = time.perf_counter()


@task_postrun.connect(dispatch_uid="workers.metrics.postrun")
def _on_postrun(task_id: str = "", task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    started = _started.pop(task_id, None)
    if _metrics is None or started is None:
        return
    labels = _labels(task)
    _metrics.duration.labels(**labels).observe(time.perf_counter() - started)
    _metrics.runs.labels(**labels, state=state or "UNKNOWN").inc()


@task_failure.connect(dispatch_uid="workers.metrics.failure")
def _on_failure(sender: Any = None, **kwargs: Any) -> None:
    if _metrics is not None:
        _metrics.failures.labels(**_labels(sender)).inc()


@task_retry.connect(dispatch_uid="workers.metrics.retry")
def _on_retry(sender: Any = None, **kwargs: Any) -> None:
    if _metrics is not None:
        _metrics.retries.labels(**_labels(sender)).inc()
