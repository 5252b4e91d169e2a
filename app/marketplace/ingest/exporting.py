"""`marketplace_export`: every entity to one file per type, in the format the import reads.

`cleaners.jsonl`, `clients.jsonl`, … (or `.csv`) in a directory, each written to a temporary
file and renamed into place, rows streamed in id order. Importing the directory into an empty
database gives the same marketplace.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from app.marketplace.ingest.apply import ENTITIES, ORDER
from app.marketplace.ingest.export import entity_export
from app.marketplace.ingest.files import PLURAL, atomic_write

FORMATS = ("jsonl", "csv")


def marketplace_export(directory: str | Path, *, fmt: str = "jsonl") -> dict[str, int]:
    """Write every type's file into `directory` (created if need be); the rows written per type."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for entity_type in ORDER:
        path = directory / f"{PLURAL[entity_type]}.{fmt}"
        with atomic_write(path) as f:
            written[entity_type] = (_write_csv if fmt == "csv" else _write_jsonl)(entity_type, f)
    return written


def _write_jsonl(entity_type: str, f) -> int:
    count = 0
    for row in entity_export(entity_type):
        f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def _write_csv(entity_type: str, f) -> int:
    fields = ENTITIES[entity_type].fields
    writer = csv.writer(f)
    writer.writerow(["external_id", *fields])
    count = 0
    for row in entity_export(entity_type):
        writer.writerow([row["external_id"], *(fields[name].to_csv(row[name]) for name in fields)])
        count += 1
    return count
