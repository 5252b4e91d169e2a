"""Import and export files: JSON Lines and CSV, one file per entity type or one mixed JSON Lines file.

- JSON Lines (`.jsonl`, `.ndjson`): one object per line, the external representation of one
  entity. A file named after a type (`cleaners.jsonl`, `job.jsonl`, …) or read with `--type`
  holds that type; any other holds a mix, each line with a `"type"` field.
- CSV (`.csv`): one type per file (by its name or `--type`), a header of field names, lists
  joined by "|", booleans `true` / `false`, an empty cell for a value left out (null for
  `assigned_cleaner`).

Every record keeps its file and line number for the import's report.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.marketplace.ingest.apply import ENTITIES, ORDER
from app.marketplace.ingest.fields import MISSING, Invalid
from app.marketplace.ingest.outcomes import ErrorKind, FieldError, Item

PLURAL = {"cleaner": "cleaners", "client": "clients", "property": "properties", "job": "jobs", "bid": "bids"}
PLURAL["review"] = "reviews"
TYPE_OF_NAME = {**{t: t for t in ORDER}, **{plural: t for t, plural in PLURAL.items()}}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class FileRefused(Exception):
    """A file the import cannot read at all (its format or type unknown, its header broken)."""


@dataclass(frozen=True)
class Source:
    path: Path
    format: str  # "jsonl" or "csv"
    type: str | None  # None: a mixed JSON Lines file


@dataclass(frozen=True)
class Record:
    """One row of a file: the item it gives, or the outcome of a row that is refused before the core."""

    path: Path
    line: int
    item: Item
    problem: tuple[ErrorKind, tuple[FieldError, ...]] | None = None


def source_for(path: str | Path, entity_type: str | None = None) -> Source:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        fmt = "jsonl"
    elif suffix == ".csv":
        fmt = "csv"
    else:
        raise FileRefused(f"{path}: not a .jsonl, .ndjson or .csv file")
    if not path.is_file():
        raise FileRefused(f"{path}: no such file")
    kind = entity_type or TYPE_OF_NAME.get(path.stem.lower())
    if fmt == "csv" and kind is None:
        raise FileRefused(f"{path}: name the type of a CSV file in its name (e.g. jobs.csv) or with --type")
    return Source(path, fmt, kind)


def file_rows(source: Source) -> int:
    """About how many rows `source` holds (its lines, less a CSV header), for progress and ETA."""
    lines = 0
    with open(source.path, "rb") as f:
        while block := f.read(1 << 20):
            lines += block.count(b"\n")
    return max(0, lines - (source.format == "csv"))


def records(source: Source) -> Iterator[Record]:
    """The records of a one-type file, in file order."""
    if source.format == "csv":
        yield from _csv_records(source)
    else:
        with open(source.path, encoding="utf-8") as f:
            yield from _jsonl_records(source.path, f, source.type)


def _jsonl_records(path: Path, lines: IO[str], entity_type: str | None) -> Iterator[Record]:
    for number, line in enumerate(lines, 1):
        if line.isspace():
            continue
        yield _jsonl_record(path, number, line, entity_type)


def _jsonl_record(path: Path, number: int, line: str, entity_type: str | None) -> Record:
    try:
        data = json.loads(line)
    except ValueError as exc:
        return _bad(path, number, entity_type or "", None, "", f"not JSON: {exc}")
    if not isinstance(data, dict):
        return _bad(path, number, entity_type or "", None, "", "expected a JSON object")
    external_id = data.get("external_id")
    if "type" in data:
        stated = data.pop("type")
        if entity_type is not None and stated != entity_type:
            return _bad(path, number, entity_type, external_id, "type", f"{stated!r} in a file of {entity_type}s")
        entity_type = stated
    if entity_type is None:
        return _bad(path, number, "", external_id, "type", "required in a mixed file")
    return Record(path, number, Item(entity_type, external_id, data))


def _bad(path: Path, line: int, entity_type: Any, external_id: Any, field: str, message: str) -> Record:
    item = Item(str(entity_type), external_id)
    return Record(path, line, item, (ErrorKind.INVALID, (FieldError(field, message),)))


def _csv_records(source: Source) -> Iterator[Record]:
    entity_type = source.type
    fields = ENTITIES[entity_type].fields
    with open(source.path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            return
        if "external_id" not in header:
            raise FileRefused(f"{source.path}: the header has no external_id column")
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not cells:
                continue
            yield _csv_record(source.path, start, entity_type, fields, header, cells)


def _csv_record(path: Path, line: int, entity_type: str, fields: dict, header: list[str], cells: list[str]) -> Record:
    if len(cells) != len(header):
        return _bad(path, line, entity_type, None, "", f"{len(cells)} cells under a header of {len(header)}")
    data: dict[str, Any] = {}
    errors = []
    for name, text in zip(header, cells, strict=True):
        if name == "type":
            if text and text != entity_type:
                errors.append(FieldError("type", f"{text!r} in a file of {entity_type}s"))
            continue
        field = fields.get(name)
        if field is None:
            data[name] = text  # external_id, or an unknown column the core names
            continue
        try:
            value = field.from_csv(text)
        except Invalid as exc:
            errors.append(FieldError(name, str(exc)))
            continue
        if value is not MISSING:
            data[name] = value
    item = Item(entity_type, data.get("external_id"), data)
    return Record(path, line, item, (ErrorKind.INVALID, tuple(errors)) if errors else None)


@contextmanager
def split_by_type(source: Source) -> Iterator[dict[str, Path]]:
    """A mixed JSON Lines file split into one temporary file per type (line numbers kept), removed after."""
    with tempfile.TemporaryDirectory(prefix="recsvc-import-") as tmp:
        parts: dict[str, IO[str]] = {}
        paths: dict[str, Path] = {}
        try:
            with open(source.path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if line.isspace():
                        continue
                    kind = _type_of(line)
                    if kind not in parts:
                        paths[kind] = Path(tmp) / f"{len(paths)}.tsv"
                        parts[kind] = open(paths[kind], "w", encoding="utf-8")
                    parts[kind].write(f"{number}\t{line.rstrip(chr(10))}\n")
        finally:
            for part in parts.values():
                part.close()
        yield paths


def _type_of(line: str) -> str:
    """The type a mixed file's line states; "" when it is not an object with a valid type (refused later)."""
    try:
        data = json.loads(line)
    except ValueError:
        return ""
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if kind in ENTITIES else ""


def split_records(source: Source, part: Path) -> Iterator[Record]:
    """The records of one type's part of a mixed file, with the mixed file's path and line numbers."""
    with open(part, encoding="utf-8") as f:
        for row in f:
            number, _, line = row.partition("\t")
            yield _jsonl_record(source.path, int(number), line, None)


@contextmanager
def atomic_write(path: Path) -> Iterator[IO[str]]:
    """A text file written in full or not at all: a temporary file beside it, renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is for the temporary file, not the export
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
