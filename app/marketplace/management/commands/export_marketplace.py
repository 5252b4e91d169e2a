"""`manage.py export_marketplace DIR [--format jsonl|csv]`: every entity, one file per type, as the import reads them."""

import time

from django.core.management.base import BaseCommand, CommandParser

from app.marketplace.ingest.exporting import FORMATS, marketplace_export


class Command(BaseCommand):
    help = "Export the marketplace to DIR (cleaners.jsonl, clients.jsonl, …) in the format import_marketplace reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")

    def handle(self, *args, directory: str, format: str, **options) -> None:
        started = time.perf_counter()
        written = marketplace_export(directory, fmt=format)
        counts = ", ".join(f"{n:,} {t}" for t, n in written.items())
        self.stdout.write(f"Exported {counts} to {directory} in {time.perf_counter() - started:.1f} s")
