"""Export, then import into an empty database: the same marketplace and the same recommendations."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from app.marketplace.ingest import ENTITY_TYPES, entity_export
from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.cleaner_scores import cleaner_scores_refresh
from app.synthetic.generator import training_data_generate
from workers.recommend.engine import RecommendationEngine

pytestmark = pytest.mark.slow


def report_counts(report: str) -> dict[str, dict[str, int]]:
    """The counts table of import_marketplace's report: {type: {status: rows}}."""
    lines = report.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("type "))
    statuses = lines[header].split()[1:]
    counts = {}
    for line in lines[header + 1 :]:
        cells = line.split()
        if not cells or cells[0] not in ENTITY_TYPES:
            break
        counts[cells[0]] = {s: int(c.replace(",", "")) for s, c in zip(statuses, cells[1:], strict=True)}
    return counts


def marketplace() -> dict[str, list[dict]]:
    return {t: list(entity_export(t)) for t in ENTITY_TYPES}


def recommendations(job_ids: list[str]) -> dict[str, list[tuple]]:
    """Rule-based cleaners for each job, by external id, with their scores and components."""
    engine = RecommendationEngine(mode="rule_based")
    cleaners = dict(CleanerProfile.objects.values_list("pk", "external_id"))
    out = {}
    for job in CleaningJob.objects.filter(external_id__in=job_ids).order_by("external_id"):
        scored = engine.score_cleaners_for_job(job, limit=10)
        out[job.external_id] = [
            (cleaners[row["id"]], row["score"], tuple(sorted(row["components"].items()))) for row in scored.rows()
        ]
    return out


def test_export_then_import_into_an_empty_database_gives_the_same_recommendations(transactional_db, tmp_path: Path):
    training_data_generate(jobs=400, cleaners=40, clients=80, seed=3)
    cleaner_scores_refresh()
    open_jobs = list(CleaningJob.objects.filter(status="open_for_bids").values_list("external_id", flat=True)[:8])
    before, asked = marketplace(), recommendations(open_jobs)
    assert len(open_jobs) == 8 and all(asked.values())

    call_command("export_marketplace", str(tmp_path), stdout=StringIO())
    call_command("flush", interactive=False)
    assert not CleaningJob.objects.exists()
    out = StringIO()
    call_command("import_marketplace", *sorted(str(p) for p in tmp_path.iterdir()), stdout=out)

    assert "Refreshed the CleanerScore of 40 cleaners." in out.getvalue()
    assert marketplace() == before
    assert recommendations(open_jobs) == asked


def test_csv_export_reads_back_unchanged(db, tmp_path: Path) -> None:
    training_data_generate(jobs=150, cleaners=20, clients=40, seed=4)
    call_command("export_marketplace", str(tmp_path), "--format", "csv", stdout=StringIO())
    out = StringIO()

    call_command("import_marketplace", *sorted(str(p) for p in tmp_path.iterdir()), stdout=out)

    counts = report_counts(out.getvalue())
    assert counts["job"] == {"created": 0, "updated": 0, "unchanged": 150, "deleted": 0, "error": 0}
    assert all(c["unchanged"] and not c["created"] + c["updated"] + c["error"] for c in counts.values()), counts
    assert "Refreshed" not in out.getvalue()  # nothing changed, nothing to refresh


def test_the_generator_can_write_its_marketplace_as_import_files(db, tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "generate_training_data",
        "--jobs",
        "120",
        "--cleaners",
        "15",
        "--clients",
        "30",
        "--output",
        str(tmp_path),
        stdout=out,
    )

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bids.jsonl",
        "cleaners.jsonl",
        "clients.jsonl",
        "jobs.jsonl",
        "properties.jsonl",
        "reviews.jsonl",
    ]
    rows = sum(len((tmp_path / p).read_text().splitlines()) for p in tmp_path.iterdir())
    assert f"Wrote {rows:,} rows to {tmp_path}" in out.getvalue()
    assert (tmp_path / "jobs.jsonl").read_text().splitlines()[0].startswith('{"external_id":"job-1","client":"client-')
