"""`python -m scripts.bench` (`make bench`): the steps in order, then BENCHMARKS.md.

The order matters: the training step trains the model the others load, and the scoring step
makes the job the end-to-end step asks about. See the package's docstring for the steps.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scripts.bench import (
    baselines,
    cached,
    end_to_end,
    freshness,
    gc_pause,
    generate,
    ingest,
    scaling,
    scoring,
    throughput,
    training,
)
from scripts.bench.harness import ROOT, web_and_worker
from scripts.bench.report import Report


def bench_env() -> dict:
    """The environment of every process: a fresh `<your database>_bench` database and models directory."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "PYTHONUNBUFFERED": "1"}
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        # Named after DATABASE_URL's database, so that benches of different checkouts on one
        # server do not drop each other's database.
        base, name = url.rsplit("/", 1)
        bench = f"{name}_bench"
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {bench}"], check=True)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {bench}"], check=True)
        env["DATABASE_URL"] = f"{base}/{bench}"
    else:
        db = ROOT / "var" / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{db}"
    models = ROOT / "var" / "bench-models"
    subprocess.run(["rm", "-rf", str(models)], check=True)
    env["RECOMMENDATION_MODELS_DIR"] = str(models)
    env["DJANGO_DEBUG"] = "0"
    return env


def over_http(env: dict, probe: dict, report: Report) -> None:
    """Everything that needs the web and the worker running, measured first and reported after."""
    token = end_to_end.client_token(env, probe["client_user"])
    with web_and_worker(env) as processes:
        endpoint = end_to_end.Endpoint(base=processes.base, job_id=probe["job_id"], token=token)
        uncached = end_to_end.measure(processes, endpoint)
        cached_answers = cached.measure(endpoint)
        network = baselines.measure_network(processes)
        with_events = end_to_end.measure_with_task_events(processes, endpoint)
        concurrent = throughput.measure(env, processes, endpoint)  # restarts the worker as production runs it
    end_to_end.report_uncached(report, uncached)
    cached.report_cached(report, cached_answers)
    baselines.report_network(report, network)
    end_to_end.report_task_events(report, with_events)
    throughput.report(report, concurrent)


def main() -> None:
    env = bench_env()
    report = Report()
    generate.step(env, report)
    ingest.step(env, report)
    freshness.step(env, report)
    training_output = training.step(env, report)
    probe = scoring.step(env, report)
    over_http(env, probe, report)
    gc_pause.step(env, report)
    scaling.step(env, report)
    report.write_markdown(env, training_output)


if __name__ == "__main__":
    main()
