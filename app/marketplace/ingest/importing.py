"""`marketplace_import`: files in, through `ingest_apply`, chunk by chunk, with a report.

Types go in dependency order: for each type, every file's rows of that type (a one-type file
is read in its type's turn; a mixed file is first split by type into temporary files), in
chunks of `CHUNK` rows, one `ingest_apply` call and one commit each, the next chunk read and
checked meanwhile (readahead.py). Memory stays flat whatever the size of the files; the
rejected rows wait in a temporary file for the report.
A dry run does all of it in one transaction and rolls it back, so that later chunks see the
rows earlier ones would have created. Re-running the same files changes nothing.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO

from django.db import transaction

from app.marketplace.ingest.apply import ORDER, ingest_apply
from app.marketplace.ingest.files import Record, Source, file_rows, records, source_for, split_by_type, split_records
from app.marketplace.ingest.outcomes import ItemOutcome, Status, refused
from app.marketplace.ingest.readahead import chunks_read_ahead
from app.recommendations.cleaner_scores import cleaner_scores_refresh

CHUNK = 5000
# Rows that move a cleaner's score (CleanerScore): after they change, the import refreshes the scores.
SCORED = {"cleaner", "job", "bid", "review"}


@dataclass(frozen=True)
class Rejected:
    path: str
    line: int
    type: str
    external_id: str
    kind: str
    reason: str


@dataclass
class ImportReport:
    counts: Counter = field(default_factory=Counter)  # (type, status) -> rows
    rows: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    scores_refreshed: int | None = None  # cleaners whose score was refreshed after the import
    _rejected: IO[str] = field(default_factory=lambda: tempfile.TemporaryFile("w+", encoding="utf-8"))

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, record: Record, outcome: ItemOutcome) -> None:
        self.rows += 1
        self.counts[outcome.type, str(outcome.status)] += 1
        if outcome.status == Status.ERROR:
            line = [str(record.path), record.line, outcome.type, str(outcome.external_id or ""), str(outcome.kind)]
            self._rejected.write(json.dumps([*line, outcome.message]) + "\n")

    def rejected(self) -> Iterator[Rejected]:
        self._rejected.seek(0)
        for line in self._rejected:
            yield Rejected(*json.loads(line))
        self._rejected.seek(0, 2)

    def close(self) -> None:
        self._rejected.close()


Progress = Callable[[int], None]  # called with the number of rows done so far


def import_sources(paths: Iterable[str | Path], entity_type: str | None = None) -> list[Source]:
    """The files to import, checked (format, type) before anything is read; raises FileRefused."""
    return [source_for(p, entity_type) for p in paths]


def import_total_rows(sources: list[Source]) -> int:
    return sum(file_rows(s) for s in sources)


def marketplace_import(
    sources: list[Source], *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Import `sources` (see `import_sources`); the report has the counts and every rejected row."""
    report = ImportReport(dry_run=dry_run)
    started = time.perf_counter()
    with ExitStack() as stack:
        if dry_run:
            stack.enter_context(transaction.atomic())
        # One stream of records in dependency order; a chunk may end one type and begin the
        # next, which ingest_apply applies in order.
        _import_records(chain(*_streams_by_type(sources, stack)), report, progress)
        report.seconds = time.perf_counter() - started
        scored = any(report.counts[t, s] for t in SCORED for s in ("created", "updated", "deleted"))
        if dry_run:
            transaction.set_rollback(True)
        elif scored:
            report.scores_refreshed = cleaner_scores_refresh()
    return report


def _streams_by_type(sources: list[Source], stack: ExitStack) -> list[Iterator[Record]]:
    """Record streams in dependency order: each type's rows from every file, the unreadable lines first."""
    parts = {s: stack.enter_context(split_by_type(s)) for s in sources if s.type is None}
    streams = [split_records(s, p[""]) for s, p in parts.items() if "" in p]
    for entity_type in ORDER:
        for source in sources:
            if source.type == entity_type:
                streams.append(records(source))
            elif source.type is None and entity_type in parts[source]:
                streams.append(split_records(source, parts[source][entity_type]))
    return streams


def _import_records(stream: Iterator[Record], report: ImportReport, progress: Progress | None) -> None:
    for chunk in chunks_read_ahead(stream, CHUNK):
        outcomes = iter(ingest_apply([r.item for r in chunk if r.problem is None]))
        for record in chunk:
            report.add(record, next(outcomes) if record.problem is None else refused(record.item, *record.problem))
        if progress is not None:
            progress(report.rows)
