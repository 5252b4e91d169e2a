"""import_marketplace: files of every kind, the report with file and line numbers, dry runs, re-runs."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from app.marketplace.ingest import importing
from app.marketplace.ingest.progress import ImportProgress
from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile, Review
from tests.app.marketplace.ingest import builders as b
from tests.app.marketplace.ingest.test_round_trip import report_counts

pytestmark = pytest.mark.django_db

FILES = {"cleaner": "cleaners", "client": "clients", "property": "properties", "job": "jobs", "bid": "bids"}
FILES["review"] = "reviews"


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def per_type_files(directory: Path) -> list[Path]:
    return [
        jsonl(directory / f"{FILES[item.type]}.jsonl", [{"external_id": item.external_id, **item.data}])
        for item in b.world()
    ]


def run(*args: str) -> tuple[str, str | None]:
    """The command's output, and its error when it exits with one."""
    out = StringIO()
    try:
        call_command("import_marketplace", *map(str, args), stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_it_imports_one_file_per_type_in_dependency_order(tmp_path: Path) -> None:
    files = per_type_files(tmp_path)

    out, error = run(*reversed(files))

    assert error is None
    counts = report_counts(out)
    assert {t: c["created"] for t, c in counts.items()} == dict.fromkeys(FILES, 1)
    assert Review.objects.get().job.external_id == "j-1"
    assert "Imported 6 rows in " in out and "Refreshed the CleanerScore of 1 cleaners." in out


def test_running_it_again_changes_nothing(tmp_path: Path) -> None:
    files = per_type_files(tmp_path)
    run(*files)

    out, error = run(*files)

    assert error is None and {t: c["unchanged"] for t, c in report_counts(out).items()} == dict.fromkeys(FILES, 1)
    assert "Refreshed" not in out


def test_it_reports_every_rejected_row_with_its_file_line_external_id_and_reason(tmp_path: Path) -> None:
    cleaners = jsonl(
        tmp_path / "cleaners.jsonl",
        [
            {"external_id": "c-1", **b.cleaner().data},
            {"external_id": "c-2", **b.cleaner(home_lat=123).data},
        ],
    )
    (tmp_path / "jobs.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"external_id": "j-1", **b.job(client="cl-9").data}),
                "",
                "{not json",
                json.dumps(["a list"]),
                json.dumps({"external_id": "j-3", "type": "bid"}),
            ]
        )
        + "\n"
    )

    out, error = run(cleaners, tmp_path / "jobs.jsonl")

    assert error == "5 rows rejected (listed above)"
    assert f"  {cleaners}:2 cleaner c-2: invalid: home_lat: must be at least -90 and at most 90, got 123" in out
    jobs = tmp_path / "jobs.jsonl"
    assert f"  {jobs}:1 job j-1: unknown_reference: client: no client 'cl-9'; property: no property 'p-1'" in out
    assert f"  {jobs}:3 job -: invalid: not JSON: " in out
    assert f"  {jobs}:4 job -: invalid: expected a JSON object" in out
    assert f"  {jobs}:5 job j-3: invalid: type: 'bid' in a file of jobs" in out
    assert list(CleanerProfile.objects.values_list("external_id", flat=True)) == ["c-1"]


def test_it_imports_a_mixed_file_in_any_order(tmp_path: Path) -> None:
    rows = [{"type": item.type, "external_id": item.external_id, **item.data} for item in reversed(b.world())]
    rows.insert(2, {"type": "invoice", "external_id": "i-1"})
    rows.append({"external_id": "x-1"})
    mixed = jsonl(tmp_path / "marketplace.jsonl", rows)

    out, error = run(mixed)

    assert error == "2 rows rejected (listed above)"
    assert {t: c["created"] for t, c in report_counts(out).items()} == dict.fromkeys(FILES, 1)
    assert f"  {mixed}:3 invoice i-1: invalid: type: 'invoice' is not one of cleaner, client" in out
    assert f"  {mixed}:8 - x-1: invalid: type: required in a mixed file" in out


def test_it_imports_csv_files_named_by_type_or_by_option(tmp_path: Path) -> None:
    (tmp_path / "cleaners.csv").write_text(
        "external_id,name,home_lat,home_lng,hourly_rate,services,verified\n"
        'c-1,"Lima, Ana",40.7,-74.0,35.50,standard|deep,true\n'
        "c-2,Bo,40.7,-74.0,35,standard,yes\n"
        'c-3,"Two\nLines",40.7,-74.0,35,,false\n'
        "c-4,Di,40.7,-74.0,,deep,false\n"
    )
    (tmp_path / "people.csv").write_text("external_id,phone,blocked_cleaners\ncl-1,555,c-1|c-3\n")

    out, error = run(tmp_path / "cleaners.csv")
    assert error == "2 rows rejected (listed above)"
    assert f"  {tmp_path / 'cleaners.csv'}:3 cleaner c-2: invalid: verified: expected true or false, got 'yes'" in out
    assert f"  {tmp_path / 'cleaners.csv'}:6 cleaner c-4: invalid: hourly_rate: required" in out
    out, error = run(tmp_path / "people.csv", "--type", "client")

    assert error is None
    cleaner = CleanerProfile.objects.select_related("user").get(external_id="c-1")
    assert (cleaner.user.last_name, cleaner.services, cleaner.verified) == ("Ana", ["standard", "deep"], True)
    assert sorted(ClientProfile.objects.get().blocked_cleaners.values_list("external_id", flat=True)) == ["c-1", "c-3"]


def test_a_dry_run_checks_everything_and_writes_nothing(tmp_path: Path) -> None:
    files = per_type_files(tmp_path)

    out, error = run(*files, "--dry-run")

    assert error is None and "Checked 6 rows" in out and "Dry run: nothing was written." in out
    assert {t: c["created"] for t, c in report_counts(out).items()} == dict.fromkeys(FILES, 1)
    assert not CleanerProfile.objects.exists() and not CleaningJob.objects.exists() and not Bid.objects.exists()


def test_chunks_see_the_rows_of_earlier_chunks_in_a_dry_run_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(importing, "CHUNK", 2)
    cleaners = [{"external_id": f"c-{i}", **b.cleaner().data} for i in range(5)]
    client = {"external_id": "cl-1", **b.client(blocked_cleaners=["c-0", "c-4"]).data}
    rejected = {"external_id": "c-9", **b.cleaner(hourly_rate=-1).data}
    files = [jsonl(tmp_path / "cleaners.jsonl", [*cleaners, rejected]), jsonl(tmp_path / "clients.jsonl", [client])]

    out, error = run(*files, "--dry-run")

    assert report_counts(out)["cleaner"]["created"] == 5 and report_counts(out)["client"]["created"] == 1
    assert f"  {files[0]}:6 cleaner c-9: invalid: hourly_rate: must be greater than 0" in out
    assert not CleanerProfile.objects.exists()


def test_it_prints_plain_progress_lines_when_not_on_a_terminal(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(importing, "CHUNK", 1)
    out, _ = run(*per_type_files(tmp_path))

    assert "Progress: 6/6 rows (100%), " in out and " rows/s, ETA 0s" in out and "\r" not in out


def test_on_a_terminal_it_draws_a_bar_in_place() -> None:
    out = StringIO()
    progress = ImportProgress(out, 10, terminal=True)

    progress(5)
    progress(10)
    progress.finish()

    assert out.getvalue().startswith("\r[###############...............] 5/10 rows (50%), ")
    assert "\r[##############################] 10/10 rows (100%), " in out.getvalue() and out.getvalue().endswith("\n")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cleaners.xml", "not a .jsonl, .ndjson or .csv file"),
        ("people.csv", "name the type of a CSV file in its name"),
        ("missing.jsonl", "no such file"),
    ],
)
def test_it_refuses_files_it_cannot_read_before_importing_anything(tmp_path: Path, name: str, message: str) -> None:
    if name != "missing.jsonl":
        (tmp_path / name).write_text("external_id\n")
    good = per_type_files(tmp_path)

    _, error = run(*good, tmp_path / name)

    assert message in error and not CleanerProfile.objects.exists()
