"""Step: the cost of keeping a worker's cleaner table fresh, at 2,000, 20,000 and 100,000 active cleaners.

`step` makes a database of its own (the bench database's name + `_freshness`; a file beside
it on SQLite), migrates it, and runs `probe` in a process of its own, which grows the cleaners
to each size by bulk inserts (users, profiles, scores) and measures, with a worker's
`CleanerTable`:

- picking up one changed cleaner: a `QuerySet.update` of one random cleaner's rate, committed,
  then the table's `get()` (its look at the change log, the re-read of that cleaner, the row
  replaced in place); median and p99 of 200;
- a look that finds nothing (what every request pays when nothing changed);
- the baseline of the same run: one `SELECT 1` round trip on the same connection;
- a full load (what every change cost before the change log: median of 3);
- the table's memory in the process (its arrays and the external-id strings they point to).
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from scripts.bench.harness import database_beside, database_drop, manage, percentile, run_probe, timings_ms

if TYPE_CHECKING:
    from scripts.bench.report import Report

SIZES = (2_000, 20_000, 100_000)
CHANGES = 200
TARGET_MS = 5.0  # one change picked up at 100,000 cleaners


def step(env: dict, report: Report) -> None:
    target = database_beside(env, "freshness")
    manage(target, "migrate", "--noinput")
    try:
        r = run_probe(target, "scripts.bench.freshness")
    finally:
        database_drop(target)
    for size in SIZES:
        s = r[str(size)]
        report.record(
            f"cleaner table at {size:,} active cleaners: one changed cleaner picked up",
            f"{s['change']:.2f} ms median",
            f"(p99 {s['change_p99']:.2f} ms; a look finding nothing {s['idle']:.2f} ms; "
            f"bare SELECT 1 {s['select1']:.2f} ms, the baseline; full load {s['full']:.0f} ms, "
            f"{s['full'] / s['change']:.0f}x one change; table memory {s['mb']:.1f} MB per worker process)",
        )
    big = r[str(SIZES[-1])]
    report.verdict(
        f"one change picked up <= {TARGET_MS:.0f} ms at {SIZES[-1]:,} cleaners",
        f"{big['change']:.2f} ms median (p99 {big['change_p99']:.2f})",
        big["change"] <= TARGET_MS,
    )


def _grow_to(size: int, rng) -> None:
    """Bulk-insert active cleaners (user, profile, score) until there are `size`."""
    from decimal import Decimal

    from app.accounts.models import User
    from app.marketplace.models import CleanerProfile
    from app.recommendations.models import CleanerScore

    have = CleanerProfile.objects.count()
    for start in range(have, size, 10_000):
        n = min(10_000, size - start)
        users = User.objects.bulk_create(
            [User(username=f"fresh-{start + i}", role="cleaner") for i in range(n)], batch_size=2000
        )
        lat, lng = rng.normal(40.72, 0.2, n), rng.normal(-74.0, 0.2, n)
        profiles = CleanerProfile.objects.bulk_create(
            [
                CleanerProfile(
                    user=u,
                    external_id=f"c-{start + i}",
                    home_lat=float(lat[i]),
                    home_lng=float(lng[i]),
                    hourly_rate=Decimal(int(rng.integers(20, 80))),
                    services_mask=0b1111111,
                )
                for i, u in enumerate(users)
            ],
            batch_size=2000,
        )
        CleanerScore.objects.bulk_create(
            [CleanerScore(cleaner=p, quality=float(rng.random()), reliability=0.9) for p in profiles], batch_size=2000
        )


def _measure(rng) -> dict:
    from django.db import connection

    from app.marketplace.models import CleanerProfile
    from workers.recommend.cleaner_table import CleanerTable

    table = CleanerTable()
    table.get()
    full = []
    for _ in range(3):
        table.invalidate()
        full.extend(timings_ms(table.get, n=1))
    ids = list(CleanerProfile.objects.values_list("pk", flat=True))
    idle = timings_ms(table.get, n=CHANGES, warmup=5)
    with connection.cursor() as cursor:
        select1 = timings_ms(lambda: (cursor.execute("SELECT 1"), cursor.fetchone()), n=CHANGES, warmup=5)
    change = []
    for i in range(CHANGES + 10):  # the first 10 untimed: warm-up
        pk = ids[int(rng.integers(len(ids)))]
        CleanerProfile.objects.filter(pk=pk).update(hourly_rate=int(rng.integers(20, 80)))
        took = timings_ms(table.get, n=1)
        change.extend(took if i >= 10 else [])
    loads = table.full_loads
    assert loads == 4, f"{loads} full loads: a change was not picked up row-wise"
    return {
        "change": statistics.median(change),
        "change_p99": percentile(change, 0.99),
        "idle": statistics.median(idle),
        "select1": statistics.median(select1),
        "full": statistics.median(full),
        "mb": table.nbytes() / 1e6,
    }


def probe() -> None:
    """Runs in the probe's process: prints RESULT= and the figures by size as JSON."""
    import json

    import django

    django.setup()
    import numpy as np

    rng = np.random.default_rng(14)
    out = {}
    for size in SIZES:
        _grow_to(size, rng)
        out[str(size)] = _measure(rng)
    print("RESULT=" + json.dumps(out), flush=True)


if __name__ == "__main__":
    probe()
