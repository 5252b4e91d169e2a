"""`manage.py import_marketplace PATH [PATH...] [--type TYPE] [--dry-run]`: files in, with a report.

Formats and file naming: app/marketplace/ingest/files.py. The import itself:
app/marketplace/ingest/importing.py. Exits with status 1 when any row was rejected.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from app.marketplace.ingest import ENTITY_TYPES
from app.marketplace.ingest.files import FileRefused
from app.marketplace.ingest.importing import ImportReport, import_sources, import_total_rows, marketplace_import
from app.marketplace.ingest.progress import ImportProgress

STATUSES = ("created", "updated", "unchanged", "deleted", "error")


class Command(BaseCommand):
    help = "Import cleaners, clients, properties, jobs, bids and reviews from JSON Lines or CSV files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="JSON Lines (.jsonl) or CSV (.csv) files")
        parser.add_argument("--type", choices=ENTITY_TYPES, help="the type of every file (else from its name)")
        parser.add_argument("--dry-run", action="store_true", help="validate everything, write nothing")

    def handle(self, *args, paths: list[str], type: str | None, dry_run: bool, **options) -> None:
        try:
            sources = import_sources(paths, type)
        except FileRefused as exc:
            raise CommandError(str(exc)) from None
        progress = ImportProgress(self.stdout, import_total_rows(sources), terminal=self.stdout.isatty())
        report = marketplace_import(sources, dry_run=dry_run, progress=progress)
        progress.finish()
        try:
            rejected = self._report(report)
        finally:
            report.close()
        if rejected:
            raise CommandError(f"{rejected:,} rows rejected (listed above)")

    def _report(self, report: ImportReport) -> int:
        verb = "Checked" if report.dry_run else "Imported"
        self.stdout.write(f"{verb} {report.rows:,} rows in {report.seconds:.2f} s ({report.rate:,.0f} rows/s)")
        if report.dry_run:
            self.stdout.write("Dry run: nothing was written.")
        self.stdout.write(f"{'type':10}" + "".join(f"{s:>11}" for s in STATUSES))
        for entity_type in ENTITY_TYPES:
            counts = [report.counts[entity_type, s] for s in STATUSES]
            if any(counts):
                self.stdout.write(f"{entity_type:10}" + "".join(f"{c:>11,}" for c in counts))
        if report.scores_refreshed is not None:
            self.stdout.write(f"Refreshed the CleanerScore of {report.scores_refreshed} cleaners.")
        rejected = 0
        for rejected, row in enumerate(report.rejected(), 1):
            if rejected == 1:
                self.stdout.write("Rejected rows (file:line type external_id: kind: reason):")
            self.stdout.write(
                f"  {row.path}:{row.line} {row.type or '-'} {row.external_id or '-'}: {row.kind}: {row.reason}"
            )
        return rejected
