"""Step 2: import the seed-42 marketplace from files into an empty database, beside a bare COPY of the same rows.

The generated marketplace is exported (`export_marketplace`, JSON Lines), then imported with
`import_marketplace` into a fresh database of its own (the bench database's name + `_import`),
then imported again (every row unchanged: nothing written). The figure is the rate the
command reports: rows over the time from the first row read to the last commit, its start-up
and the CleanerScore refresh after it left out (both are in the wall time beside it). The
baseline: the same rows, as the marketplace tables hold them, COPYed into plain tables (no
index, no constraint, no trigger) in that database, commit included, median of three.
"""

from __future__ import annotations

import io
import re
import statistics
import subprocess
import time
from typing import TYPE_CHECKING

from scripts.bench.harness import ROOT, database_beside, database_drop, manage

if TYPE_CHECKING:
    from scripts.bench.report import Report

TABLES = ("cleanerprofile", "clientprofile", "property", "cleaningjob", "bid", "review")
IMPORTED = re.compile(r"Imported ([\d,]+) rows in ([\d.]+) s \(([\d,]+) rows/s\)")
TARGET = 20_000


def step(env: dict, report: Report) -> None:
    files_dir = ROOT / "var" / "bench-import"
    subprocess.run(["rm", "-rf", str(files_dir)], check=True)
    manage(env, "export_marketplace", str(files_dir))
    files = [str(p) for p in sorted(files_dir.glob("*.jsonl"))]
    target = database_beside(env, "import")
    manage(target, "migrate", "--noinput")
    first, wall = manage(target, "import_marketplace", *files)
    rows, seconds, rate = _imported(first)
    again, _ = manage(target, "import_marketplace", *files)
    _, again_seconds, again_rate = _imported(again)
    postgres = env["DATABASE_URL"].startswith("postgres")
    copy_rate = _copy_rate(env["DATABASE_URL"], target["DATABASE_URL"]) if postgres else None

    report.record(
        f"import_marketplace, seed-42 marketplace ({rows:,} rows of JSON Lines) into an empty database",
        f"{rate:,.0f} rows/s",
        f"({seconds:.2f} s; the process {wall:.1f} s with start-up and score refresh; target >= {TARGET:,} rows/s)",
    )
    report.record(
        "  the same files again (every row unchanged, nothing written)",
        f"{again_rate:,.0f} rows/s",
        f"({again_seconds:.2f} s)",
    )
    if copy_rate is not None:
        report.record(
            "  bare COPY of the same rows into plain tables, commit included (baseline)",
            f"{copy_rate:,.0f} rows/s",
            f"(the import runs at {rate / copy_rate:.0%} of it)",
        )
    report.verdict(f"import >= {TARGET:,} rows/s", f"{rate:,.0f} rows/s", rate >= TARGET)
    database_drop(target)


def _imported(output: str) -> tuple[int, float, float]:
    found = IMPORTED.search(output)
    if not found:
        raise SystemExit(f"import_marketplace printed no rate:\n{output}")
    rows, seconds, rate = found.groups()
    return int(rows.replace(",", "")), float(seconds), float(rate.replace(",", ""))


def _copy_rate(source_url: str, target_url: str) -> float:
    """Rows per second of COPY FROM STDIN into plain copies of the marketplace tables; median of three."""
    import psycopg2  # the bench process has no Django set up here; the driver is enough

    with psycopg2.connect(source_url) as source, source.cursor() as cursor:
        dumps = {}
        for table in TABLES:
            buffer = io.StringIO()
            cursor.copy_expert(f"COPY marketplace_{table} TO STDOUT", buffer)
            dumps[table] = buffer.getvalue()
    rows = sum(dump.count("\n") for dump in dumps.values())
    target = psycopg2.connect(target_url)
    try:
        timings = [_copy_once(target, dumps) for _ in range(3)]
    finally:
        target.close()
    return rows / statistics.median(timings)


def _copy_once(connection, dumps: dict[str, str]) -> float:
    with connection.cursor() as cursor:
        for table in dumps:
            cursor.execute(f"DROP TABLE IF EXISTS plain_{table}")
            cursor.execute(f"CREATE TABLE plain_{table} (LIKE marketplace_{table})")
    connection.commit()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table, dump in dumps.items():
            cursor.copy_expert(f"COPY plain_{table} FROM STDIN", io.StringIO(dump))
    connection.commit()
    return time.perf_counter() - started
