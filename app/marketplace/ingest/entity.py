"""What every entity type gives the core: its fields, how to read and write its rows, its own checks.

An entity module (cleaners, clients, properties, jobs, bids, reviews) subclasses `Entity`; the
core (`apply.py`) drives them all the same way:

1. `read(external_ids=...)`: the stored rows, as canonical values (what `validate` produces);
2. `validate` (here): the item's fields, defaults or, for a partial item, the stored values,
   then `check` (the entity's rules across fields);
3. `references`: the external ids it names, resolved by the core, then `conflicts` (rules
   against stored rows: a transition, a pair already taken);
4. `write(pending)`: one bulk upsert for the new and changed rows, setting `Pending.pk`;
5. `known(pending)`: what rows of later types need of this one (its id, its client, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db.models import Model, QuerySet

from app.marketplace.ingest.fields import REQUIRED, Field, Invalid, Ref, RefList
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.outcomes import ErrorKind, FieldError, Item
from app.marketplace.ingest.sql import OneOf


class Known(NamedTuple):
    """A row as another entity refers to it: its id, and for properties and jobs their client and cleaner."""

    pk: int
    client: int | None = None
    cleaner: int | None = None


@dataclass(slots=True)
class Stored:
    """A stored row: its id, its canonical values by external field name, and what the entity keeps besides."""

    pk: int
    values: dict[str, Any]
    extra: Any = None


@dataclass(slots=True)
class Pending:
    """An item on its way to the database: its position in the call, its values, the row it replaces."""

    index: int
    external_id: str
    values: dict[str, Any]
    stored: Stored | None
    refs: dict[str, Any] = field(default_factory=dict)  # field -> Known (a reference) or list of ids
    pk: int | None = None


class Refusal(Exception):
    """An item refused by an entity's check: the kind and the field errors."""

    def __init__(self, kind: ErrorKind, errors: list[FieldError]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.errors = errors


def refuse(kind: ErrorKind, field_name: str, message: str) -> Refusal:
    return Refusal(kind, [FieldError(field_name, message)])


class Entity:
    type: str
    model: type[Model]
    fields: dict[str, Field]

    def __init__(self) -> None:
        self.references = {
            name: f.target for name, f in self.fields.items() if isinstance(f, Ref | RefList)
        }  # field -> the type it names
        self._unknown = f"unknown field (a {self.type} has: external_id, {', '.join(self.fields)})"

    # -- hooks ----------------------------------------------------------------------------

    def queryset(self) -> QuerySet:
        return self.model.objects.all()

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        """(external id, stored row) for each row of `queryset`, in its order."""
        raise NotImplementedError

    def check(self, values: dict[str, Any]) -> list[FieldError]:
        """Rules across fields of one item, on its merged values (no database)."""
        return []

    def check_stored(self, pending: Pending) -> None:
        """Rules against what is stored, once references are resolved; raise `Refusal`."""

    def conflicts(self, pending: list[Pending]) -> dict[int, Refusal]:
        """The items `check_stored` refuses, by index; extend for rules that need one query for all."""
        out: dict[int, Refusal] = {}
        if type(self).check_stored is Entity.check_stored:  # nothing to check: skip the loop
            return out
        for p in pending:
            try:
                self.check_stored(p)
            except Refusal as refusal:
                out[p.index] = refusal
        return out

    def write(self, pending: list[Pending], changes: Changes) -> None:
        """Insert or update these rows (new or changed) in bulk; set each `pk`; note what changed."""
        raise NotImplementedError

    def known(self, pending: Pending) -> Known:
        return Known(pending.pk)

    def lookup(self, external_ids: list[str]) -> dict[str, Known]:
        """Rows other entities name, in one query."""
        return {
            eid: Known(pk)
            for eid, pk in self.model.objects.filter(OneOf("external_id", external_ids)).values_list(
                "external_id", "pk"
            )
        }

    def delete(self, pks: list[int]) -> None:
        """Delete through the ORM: cascades, and the signals keep caches fresh."""
        self.model.objects.filter(pk__in=pks).delete()

    # -- shared ---------------------------------------------------------------------------

    def stored(self, external_ids: list[str]) -> dict[str, Stored]:
        return dict(self.read(self.queryset().filter(OneOf("external_id", external_ids))))

    def export(self, queryset: QuerySet | None = None, *, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """The external representation of each row of `queryset` (default: all), in id order.

        Reads `chunk` rows at a time (keyset pagination on the id), so memory stays flat.
        """
        queryset = (self.queryset() if queryset is None else queryset).order_by("pk")
        fields, last = self.fields, 0
        while rows := list(self.read(queryset.filter(pk__gt=last)[:chunk])):
            for external_id, row in rows:
                out = {"external_id": external_id}
                for name, value in row.values.items():
                    out[name] = fields[name].dump(value)
                yield out
            last = rows[-1][1].pk

    def validate(self, item: Item, stored: Stored | None) -> dict[str, Any]:
        """The item's canonical values, merged over the stored ones when partial; raise `Refusal`."""
        data = item.data
        if not isinstance(data, dict):
            raise refuse(ErrorKind.INVALID, "", f"expected an object of {self.type} fields")
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        fields = self.fields
        for key, raw in data.items():
            f = fields.get(key)
            if f is None:
                if key == "external_id":
                    if raw != item.external_id:
                        errors.append(FieldError(key, f"{raw!r} differs from the item's {item.external_id!r}"))
                else:
                    errors.append(FieldError(str(key), self._unknown))
                continue
            try:
                values[key] = f.check(raw)
            except Invalid as exc:
                errors.append(FieldError(key, str(exc)))
        if item.partial:
            merged = {**stored.values, **values} if stored is not None else values
        else:
            merged = values
            for name, f in fields.items():
                if name not in merged and name not in data:  # a field given but refused is not missing
                    if f.default is REQUIRED:
                        errors.append(FieldError(name, "required"))
                    else:
                        merged[name] = f.default
        if not errors:
            errors = self.check(merged)
        if errors:
            raise Refusal(ErrorKind.INVALID, errors)
        return merged
