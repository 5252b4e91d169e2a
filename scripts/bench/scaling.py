"""Step 7: how a recommendation's cost grows with the marketplace, and what the first-stage cut costs in quality.

In a database of its own (the bench database's name + `_scaling`), `step` generates the seed-42
marketplace with 20,000 cleaners (3000 jobs, 500 clients), trains on it, then runs `probe` in a
process of its own (`python -m scripts.bench.scaling`), which, with the model loaded as a
worker loads it:

1. ranks every candidate of each validation job with and without the first-stage cut, against
   the generator's noise-free expected rating of every pair (`app.synthetic.generator.truth`);
2. with 2,000, 20,000 and 100,000 active cleaners (the generated ones cut to 2,000, then
   copies added: `scaling_data`), times a recommendation of cleaners for the generated open jobs
   in-process (ensemble mode; SQL, features, both stages, top 10), with the configured cut and
   without it, beside a bare forward pass of the network for the rows the model then scores;
3. with 20,000 and 200,000 open jobs (new properties, the next 30 days; the extra ones drafts
   for the smaller size), times the jobs for a cleaner and the open-jobs query alone, and
   explains that query (EXPLAIN ANALYZE on PostgreSQL).

Sizes are measured in turn, `ROUNDS` times over, and a size's samples pooled: the load of a
shared machine drifts over minutes, and would otherwise favour whichever size came first.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from typing import TYPE_CHECKING, Any

from scripts.bench.harness import ROOT, database_beside, database_drop, manage, percentile, run_probe, timings_ms

if TYPE_CHECKING:
    from scripts.bench.report import Report

SEED, JOBS, CLIENTS, GENERATED_CLEANERS = 42, 3000, 500, 20_000
ACTIVE_CLEANERS = (2_000, 20_000, 100_000)
OPEN_JOBS = (20_000, 200_000)
LIMITS = (300, 1000, 2000)  # first-stage cuts compared on quality
PROBE_JOBS = 50  # the generated open jobs asked about, in turn
PROBE_CLEANERS = 30
ROUNDS = 3  # each size measured in turn this many times: a drift in the machine's load hits all alike


def step(env: dict, report: Report) -> None:
    target = _fresh_database(env)
    try:
        manage(target, "migrate", "--noinput")
        _, generated = manage(
            target, "generate_training_data", "--jobs", str(JOBS), "--cleaners", str(GENERATED_CLEANERS),
            "--clients", str(CLIENTS), "--seed", str(SEED),
        )  # fmt: skip
        # The probe compares the cuts against the truth; the command's own comparison (the hired
        # cleaner relevant) would only add a minute at this size.
        train_env = {**target, "RECOMMENDATION_FIRST_STAGE_LIMIT": "0"}
        _, trained = manage(train_env, "train_recommendation_model", "--model-version", "1.0")
        r = run_probe(target, "scripts.bench.scaling")
    finally:
        database_drop(target)
    report.record(
        f"scaling: generate_training_data {JOBS}/{GENERATED_CLEANERS:,}/{CLIENTS} and train on it",
        f"{generated:.1f} s + {trained:.1f} s wall",
    )
    _report_quality(report, r["quality"])
    _report_cleaners(report, r["cleaners"], r["limit"])
    _report_jobs(report, r["jobs"])


def _fresh_database(env: dict) -> dict:
    """A database of its own and a models directory of its own."""
    models = ROOT / "var" / "bench-scaling-models"
    subprocess.run(["rm", "-rf", str(models)], check=True)
    return database_beside({**env, "RECOMMENDATION_MODELS_DIR": str(models)}, "scaling")


def _report_quality(report: Report, q: dict) -> None:
    report.record(
        f"first stage, quality: every candidate of {q['jobs']} validation jobs (median "
        f"{q['candidates_median']:.0f}) against the true expected rating",
        "NDCG@5 / pairwise",
        "ensemble, without the cut: "
        f"{q['without_cut']['ensemble']['ndcg_at_5']:.4f} / {q['without_cut']['ensemble']['pairwise_accuracy']:.4f}; "
        f"neural: {q['without_cut']['neural']['ndcg_at_5']:.4f} / {q['without_cut']['neural']['pairwise_accuracy']:.4f}",
    )
    for cut in q["cuts"]:
        for name in ("ensemble", "neural"):
            m = cut["with_cut"][name]
            loss, se = m["ndcg_at_5_loss"], m["ndcg_at_5_loss_se"]
            report.record(
                f"  {name}, first stage keeps {cut['limit']}",
                f"{m['ndcg_at_5']:.4f} / {m['pairwise_accuracy']:.4f}",
                f"(NDCG@5 lost {loss:+.4f} ± {se:.4f} s.e.; top 10 unchanged in {m['jobs_same_top_10']}/{q['jobs']} jobs)",
            )
    configured, tolerance = q["configured"], q["tolerance"]
    m = next(c for c in q["cuts"] if c["limit"] == configured)["with_cut"]["ensemble"]
    loss, se = m["ndcg_at_5_loss"], m["ndcg_at_5_loss_se"]
    report.verdict(
        f"first stage (keeps {configured}) loses less NDCG@5 than the promotion tolerance ({tolerance}), ensemble",
        f"{loss:+.4f} ± {se:.4f}",
        loss <= tolerance,
    )
    report.verdict(
        f"first stage (keeps {configured}) loses no NDCG@5 beyond 2 standard errors, ensemble",
        f"{loss:+.4f} ± {se:.4f}",
        loss <= 2 * se,
    )


def _report_cleaners(report: Report, rows: list[dict], limit: int) -> None:
    for row in rows:
        report.record(
            f"recommend cleaners for a job, {row['active']:,} active cleaners (ensemble, first stage keeps {limit})",
            f"{row['median']:.2f} ms median",
            f"(p99 {row['p99']:.2f} ms; {row['candidates']:.0f} candidates per job, median; without the cut "
            f"{row['median_uncut']:.2f} / p99 {row['p99_uncut']:.2f} ms; cleaner table load {row['load_ms']:.0f} ms)",
        )
    first, last = rows[0], rows[-1]
    report.record(
        f"  bare forward pass for {limit} rows / for {last['candidates']:.0f} rows (baselines)",
        f"{last['forward_kept']:.3f} / {last['forward_all']:.3f} ms median",
    )
    ratio = last["median"] / first["median"]
    report.record(
        f"  median at {last['active']:,} / at {first['active']:,} cleaners", f"{ratio:.2f}x", "(target <= 3x)"
    )
    report.verdict(
        f"recommendation median at {last['active']:,} cleaners <= 3x at {first['active']:,}",
        f"{ratio:.2f}x",
        ratio <= 3,
    )


def _report_jobs(report: Report, rows: list[dict]) -> None:
    for row in rows:
        report.record(
            f"recommend jobs for a cleaner, {row['open']:,} open jobs (ensemble)",
            f"{row['median']:.2f} ms median",
            f"(p99 {row['p99']:.2f} ms; the open-jobs query and its rows alone {row['query_median']:.2f} ms; "
            f"{row['jobs']:.0f} jobs per cleaner, median)",
        )
        report.section(f"The open-jobs query's plan at {row['open']:,} open jobs", row["plan"])
    ratio = rows[-1]["median"] / rows[0]["median"]
    report.record(
        f"  median at {rows[-1]['open']:,} / at {rows[0]['open']:,} open jobs", f"{ratio:.2f}x", "(target <= 3x)"
    )
    report.verdict(
        f"jobs for a cleaner at {rows[-1]['open']:,} open jobs <= 3x at {rows[0]['open']:,}",
        f"{ratio:.2f}x",
        ratio <= 3,
    )


# -- the probe's process -------------------------------------------------------------------


def _quality(engine: Any) -> dict:
    from django.conf import settings

    from app.synthetic.generator.truth import relevance_of
    from workers.training.data import training_set_load
    from workers.training.first_stage import first_stage_evaluate
    from workers.training.train import final_scorers

    truth = relevance_of(jobs=JOBS, cleaners=GENERATED_CLEANERS, clients=CLIENTS, seed=SEED)
    configured = int(settings.RECOMMENDATION_FIRST_STAGE_LIMIT)
    limits = sorted({*LIMITS, configured} - {0})
    out = first_stage_evaluate(training_set_load(), final_scorers(engine.nn_model), limits=limits, relevance_of=truth)
    tolerance = settings.RECOMMENDATION_PROMOTION_TOLERANCE["ndcg_at_5"]  # the project's own "no worse"
    return {**out, "configured": configured, "tolerance": tolerance}


def _freeze() -> None:
    """What a worker does with what it loaded at start (workers.runtime): collections skip it."""
    import gc

    gc.collect()
    gc.freeze()


def _summary(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 0.99)


def _cleaners_for_jobs(engine: Any) -> list[dict]:
    """Each size in turn, ROUNDS times over (the machine's load drifts), the samples of a size pooled."""
    from django.conf import settings

    from app.marketplace.models import CleaningJob
    from scripts.bench.scaling_data import active_cleaners_set, cleaner_copies_add
    from workers.recommend.candidates import active_cleaner_columns
    from workers.recommend.cleaner_table import cleaner_table

    open_jobs = CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).select_related("property")
    jobs = list(open_jobs.order_by("pk")[:PROBE_JOBS])
    turn = iter(range(10**9))
    ask = lambda: engine.score_cleaners_for_job(jobs[next(turn) % len(jobs)], 10)  # noqa: E731
    configured = settings.RECOMMENDATION_FIRST_STAGE_LIMIT
    cleaner_copies_add(max(ACTIVE_CLEANERS))
    rows = {n: {"active": n, "cut": [], "uncut": []} for n in ACTIVE_CLEANERS}
    for _ in range(ROUNDS):
        for active, row in rows.items():
            active_cleaners_set(active)
            row["load_ms"] = statistics.median(timings_ms(active_cleaner_columns, n=1))
            cleaner_table.get()
            _freeze()
            row["cut"] += timings_ms(ask, n=70, warmup=5)
            settings.RECOMMENDATION_FIRST_STAGE_LIMIT = 0
            row["uncut"] += timings_ms(ask, n=35, warmup=5)
            settings.RECOMMENDATION_FIRST_STAGE_LIMIT = configured
            row["candidates"] = statistics.median(engine.score_cleaners_for_job(j, 10).candidates for j in jobs)
    out = []
    for row in rows.values():
        (median, p99), (median_uncut, p99_uncut) = _summary(row.pop("cut")), _summary(row.pop("uncut"))
        out.append({**row, "median": median, "p99": p99, "median_uncut": median_uncut, "p99_uncut": p99_uncut})
    out[-1]["forward_kept"] = _forward_ms(engine, configured)
    out[-1]["forward_all"] = _forward_ms(engine, int(out[-1]["candidates"]))
    return out


def _forward_ms(engine: Any, rows: int) -> float:
    from scripts.bench.baselines import forward_pass_ms
    from workers.recommend.features import CLEANER_FEATURES, CLIENT_FEATURES, PAIR_FEATURES

    width = len(CLIENT_FEATURES) + len(CLEANER_FEATURES) + len(PAIR_FEATURES)
    return statistics.median(forward_pass_ms(engine.nn_model.network, rows=rows, width=width))


def _explain(queryset: Any) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return queryset.explain(analyze=True)
    return queryset.explain()


def _open_jobs_set(boundary: int, *, open_: bool) -> None:
    """The jobs after `boundary` open or not (draft); then the table as autovacuum would leave it."""
    from django.db import connection

    from app.marketplace.models import CleaningJob

    status = CleaningJob.Status.OPEN_FOR_BIDS if open_ else CleaningJob.Status.DRAFT
    CleaningJob.objects.filter(pk__gt=boundary).update(status=status)
    with connection.cursor() as cursor:
        # VACUUM too: the old row versions would stay in job_status_start's open range otherwise.
        vacuum = "VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE"
        cursor.execute(f"{vacuum} {CleaningJob._meta.db_table}")


def _jobs_for_cleaners(engine: Any) -> list[dict]:
    """Both sizes in turn, ROUNDS times over: the jobs added for the larger one are drafts for the smaller."""
    from django.db import connection
    from django.utils import timezone

    from app.marketplace.models import CleanerProfile, CleaningJob
    from scripts.bench.scaling_data import open_jobs_add
    from workers.recommend import candidates

    cleaners = list(CleanerProfile.objects.filter(is_active=True).order_by("pk")[:PROBE_CLEANERS])
    turn = iter(range(10**9))
    small, large = OPEN_JOBS
    open_jobs_add(small)
    boundary = CleaningJob.objects.order_by("-pk").values_list("pk", flat=True).first()
    open_jobs_add(large)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the new properties too: what autovacuum does after a bulk load, at once
    rows = {n: {"open": n, "full": [], "query": []} for n in OPEN_JOBS}
    for _ in range(ROUNDS):
        for total, row in rows.items():
            _open_jobs_set(boundary, open_=total == large)
            _freeze()
            row["full"] += timings_ms(
                lambda: engine.score_jobs_for_cleaner(cleaners[next(turn) % len(cleaners)], 10), 25
            )
            row["query"] += timings_ms(
                lambda: candidates.open_jobs_for_cleaner(cleaner=cleaners[next(turn) % len(cleaners)]), 25
            )
            row["jobs"] = statistics.median(len(candidates.open_jobs_for_cleaner(cleaner=c)) for c in cleaners)
            row["plan"] = _explain(candidates.open_jobs_query(cleaner=cleaners[0], now=timezone.now()))
    out = []
    for row in rows.values():
        (median, p99), query = _summary(row.pop("full")), statistics.median(row.pop("query"))
        out.append({**row, "median": median, "p99": p99, "query_median": query})
    return out


def probe() -> None:
    """Runs in the probe's process: prints RESULT= and the figures as JSON."""
    import django

    django.setup()
    from django.conf import settings

    from workers.runtime import get_engine, warm_up

    warm_up()
    engine = get_engine()
    assert engine.mode == "ensemble", engine.mode
    result = {"limit": settings.RECOMMENDATION_FIRST_STAGE_LIMIT, "quality": _quality(engine)}
    result["cleaners"] = _cleaners_for_jobs(engine)
    result["jobs"] = _jobs_for_cleaners(engine)
    print("RESULT=" + json.dumps(result))


if __name__ == "__main__":
    probe()
