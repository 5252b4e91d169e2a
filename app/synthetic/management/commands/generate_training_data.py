"""Fill the database with a synthetic marketplace: `manage.py generate_training_data --clear`.

The same arguments give the same rows; see `app.synthetic.generator` for what is generated.
`--output DIR` also writes them as import files (app/marketplace/ingest/exporting.py), the
input `import_marketplace` and the benchmark take. The generator itself keeps writing its own
rows: it must set what the external representation deliberately leaves out (the demo users'
usernames, password and seeded tokens that `make run` and the README log in with, their join
dates, and the noise-free expected ratings keyed by job), all of it byte-for-byte the same
for a seed.
"""

import argparse
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from app.marketplace.ingest.exporting import marketplace_export
from app.recommendations.cleaner_scores import cleaner_scores_refresh
from app.synthetic.generator import (
    DEFAULT_REFERENCE_DATE,
    training_data_clear,
    training_data_exists,
    training_data_generate,
)


def reference_date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {value!r} (try 2026-12-01T00:00Z)") from exc
    # A date without a zone means UTC, the marketplace's clock.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class Command(BaseCommand):
    help = "Generate a synthetic marketplace (users, properties, jobs, bids, reviews) from a seed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--jobs", type=positive_int, default=5000)
        parser.add_argument("--cleaners", type=positive_int, default=200)
        parser.add_argument("--clients", type=positive_int, default=500)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--reference-date",
            type=reference_date,
            default=DEFAULT_REFERENCE_DATE,
            help="Past jobs fall in the year before this date, open jobs in the 30 days after it "
            "(default 2026-12-01T00:00Z: fixed, so that a seed always gives the same rows).",
        )
        parser.add_argument("--clear", action="store_true", help="Delete the existing marketplace first.")
        parser.add_argument(
            "--output",
            metavar="DIR",
            help="Also write the marketplace to DIR as import files (cleaners.jsonl, …), as export_marketplace does.",
        )

    def handle(self, *args, jobs: int, cleaners: int, clients: int, seed: int, clear: bool, **options) -> None:
        started = time.perf_counter()
        with transaction.atomic():
            if training_data_exists():
                if not clear:
                    raise CommandError(
                        "Marketplace data already exists. Run again with --clear to delete it "
                        "(clients, cleaners, their jobs and the 'operator' user) and generate afresh."
                    )
                self.stdout.write("Deleting the existing marketplace...")
                training_data_clear()
            summary = training_data_generate(
                jobs=jobs,
                cleaners=cleaners,
                clients=clients,
                seed=seed,
                reference_date=options["reference_date"],
                progress=self.stdout.write,
            )
        self._refresh_cleaner_scores()
        self.stdout.write(
            f"Generated {summary.jobs} jobs, {summary.bids:,} bids, {summary.reviews:,} reviews "
            f"in {time.perf_counter() - started:.1f}s"
        )
        if options["output"]:
            written = marketplace_export(options["output"])
            self.stdout.write(
                f"Wrote {sum(written.values()):,} rows to {options['output']} (import_marketplace reads them)."
            )

    def _refresh_cleaner_scores(self) -> None:
        refreshed = cleaner_scores_refresh()
        self.stdout.write(f"Refreshed the CleanerScore of {refreshed} cleaners.")
