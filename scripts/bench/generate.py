"""Step 1: migrate the bench database and generate the seed-42 marketplace (5000 jobs, 200 cleaners, 500 clients)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scripts.bench.harness import manage

if TYPE_CHECKING:
    from scripts.bench.report import Report


def step(env: dict, report: Report) -> None:
    manage(env, "migrate", "--noinput")
    _, seconds = manage(
        env, "generate_training_data", "--jobs", "5000", "--cleaners", "200", "--clients", "500", "--seed", "42"
    )
    report.record(
        "generate_training_data 5000/200/500, seed 42", f"{seconds:.1f} s wall", "(target < 60 s; the guide: 5-10 min)"
    )
    report.verdict("generate 5000 jobs in < 60 s", f"{seconds:.1f} s", seconds < 60)
    manage(env, "reset_sequences")
