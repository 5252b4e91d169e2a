"""`rows_upsert`: insert or update many rows of one table in one statement, keyed by a unique column.

On PostgreSQL it is `INSERT … SELECT * FROM unnest(<one array per column>) ON CONFLICT (key)
DO UPDATE … RETURNING key, id`, each array sent as one text literal that this module formats:
building model instances and letting `bulk_create` adapt every value cost about 50 µs a row,
most of an import's time; this costs about 3. Elsewhere (SQLite) it is `bulk_create` with
`update_conflicts`, then one query for the ids.

`OneOf(field, values)` is `field IN values` for thousands of values, sent as one parameter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Expression, F, Model

# Every column type the marketplace and user tables use, by how a value is written in an array literal.
_NUMERIC = {"integer", "bigint", "smallint", "double precision", "numeric", "real"}
_TEXT = {"varchar", "text"}


def _array(values: list[Any], kind: str) -> str:
    """A PostgreSQL array literal of `values` (None is NULL) for a column of base type `kind`."""
    if kind in _TEXT:
        # Inline, not a function per value: this is the hottest loop of an import.
        items = ["NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    elif kind == "boolean":
        items = ["NULL" if v is None else ("t" if v else "f") for v in values]
    elif kind == "timestamp with time zone":
        items = ["NULL" if v is None else f'"{v.isoformat()}"' for v in values]
    elif kind in _NUMERIC:
        items = ["NULL" if v is None else str(v) for v in values]
    else:
        raise TypeError(f"no array literal for column type {kind!r}")
    return "{" + ",".join(items) + "}"


def _columns(model: type[Model], fields: Sequence[str]) -> list[tuple[str, str]]:
    """(column, base type) of each field, e.g. ("hourly_rate", "numeric")."""
    out = []
    for name in fields:
        f = model._meta.get_field(name)
        out.append((f.column, f.db_type(connection).split("(")[0]))
    return out


def rows_upsert(
    model: type[Model],
    fields: Sequence[str],
    rows: list[tuple],
    *,
    key: str,
    update: Sequence[str],
    same: dict[str, Any] | None = None,
) -> dict[Any, int]:
    """Write `rows` (tuples of `fields`' values; `key` is one of them) and return {key value: id}.

    `same`: more fields, with one value for every row (a timestamp, a role), sent once. A row
    whose key exists is updated in the `update` fields; the others are inserted. The key must
    be unique in `rows`. Foreign keys are given by their attname (`job_id`).
    """
    if not rows:
        return {}
    same = same or {}
    if connection.vendor == "postgresql":
        return _upsert_postgresql(model, fields, rows, key=key, update=update, same=same)
    return _upsert_orm(model, fields, rows, key=key, update=update, same=same)


def _upsert_postgresql(
    model: type[Model], fields: Sequence[str], rows: list[tuple], *, key: str, update: Sequence[str], same: dict
) -> dict[Any, int]:
    columns, constants = _columns(model, fields), _columns(model, same)
    key_column = model._meta.get_field(key).column
    pk_column = model._meta.pk.column
    table = connection.ops.quote_name(model._meta.db_table)
    q = connection.ops.quote_name
    arrays = [_array(list(col), kind) for col, (_, kind) in zip(zip(*rows), columns, strict=True)]
    selected = ", ".join(["u.*", *(f"%s::{kind}" for _, kind in constants)])
    casts = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    updates = [model._meta.get_field(name).column for name in update]
    on_conflict = (
        "DO UPDATE SET " + ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in updates) if updates else "DO NOTHING"
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(q(c) for c, _ in columns + constants)}) "
        f"SELECT {selected} FROM unnest({casts}) AS u "
        f"ON CONFLICT ({q(key_column)}) {on_conflict} RETURNING {q(key_column)}, {q(pk_column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*same.values(), *arrays])
        return dict(cursor.fetchall())


def _upsert_orm(
    model: type[Model], fields: Sequence[str], rows: list[tuple], *, key: str, update: Sequence[str], same: dict
) -> dict[Any, int]:
    objects = [model(**dict(zip(fields, row, strict=True)), **same) for row in rows]
    options: dict[str, Any] = {"update_conflicts": True, "unique_fields": [key], "update_fields": list(update)}
    if not update:
        options = {"ignore_conflicts": True}
    model.objects.bulk_create(objects, **options)  # in batches that fit the backend's limits
    keys = [getattr(o, key) for o in objects]
    found: dict[Any, int] = {}
    for start in range(0, len(keys), 500):  # SQLite's limit on variables per statement
        found.update(model.objects.filter(**{f"{key}__in": keys[start : start + 500]}).values_list(key, "pk"))
    return found


class OneOf(Expression):
    """A filter: `field` is one of `values`, sent as one array (PostgreSQL) or JSON (SQLite) parameter.

    Django's `field__in=values` prepares and compiles every value: about 9 µs each, 45 ms for
    the 5000 external ids of one slice, several times per slice. This costs one string join.
    """

    output_field = BooleanField()

    def __init__(self, field: str, values: Iterable[Any]) -> None:
        super().__init__()
        self.column: Any = F(field)
        self.values = list(values)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = self.copy()
        resolved.column = self.column.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return resolved

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        column, params = compiler.compile(self.column)
        if not self.values:
            return "1 = 0", []
        if connection.vendor == "postgresql":
            kind = self.column.output_field.db_type(connection).split("(")[0]
            return f"{column} = ANY(%s::{kind}[])", [*params, _array(self.values, kind)]
        return f"{column} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.values)]
