"""Step 6: what a full garbage collection costs a web and a worker process, and after gc.freeze().

`step` runs `probe` in a process of its own (`python -m scripts.bench.gc_pause`): Django with
every view loaded, then torch and the active model as a worker holds them, then frozen.
Only the standard library is imported at the top: the probe's process must hold what a web
process holds and no more.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scripts.bench.report import Report


def step(env: dict, report: Report) -> None:
    from scripts.bench.harness import run_probe  # not at the top: see the module's docstring

    r = run_probe(env, "scripts.bench.gc_pause")
    report.record(
        "full garbage collection, web process (Django, DRF, every view loaded)",
        f"{r['web']:.1f} ms median",
        "(a pause of every thread)",
    )
    report.record("  the same in a worker process (torch and the model loaded too)", f"{r['worker']:.1f} ms median")
    report.record("  after gc.freeze(), as config/wsgi.py and the worker warm-up do", f"{r['frozen']:.2f} ms median")


def _full_collection_ms() -> float:
    times = []
    for _ in range(7):
        t = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def probe() -> None:
    """Runs in the probe's process: prints RESULT= and the three medians as JSON."""
    import django

    django.setup()
    from django.urls import get_resolver

    out = {}
    get_resolver().url_patterns  # noqa: B018 - loads every view, as config/wsgi.py loads them
    out["web"] = _full_collection_ms()
    from workers.recommend.engine import RecommendationEngine

    RecommendationEngine().refresh_model()  # torch and the active model, as a worker holds them
    out["worker"] = _full_collection_ms()
    gc.freeze()
    out["frozen"] = _full_collection_ms()
    print("RESULT=" + json.dumps(out))


if __name__ == "__main__":
    probe()
