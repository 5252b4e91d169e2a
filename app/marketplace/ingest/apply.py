"""`ingest_apply`: the one way marketplace data comes in, for the sync API and the bulk import alike.

The whole call is one transaction. Items are taken by type in dependency order (cleaners,
clients, properties, jobs, bids, reviews), upserts first, then deletes in the reverse order;
within a type, in slices of at most `SLICE`, each slice costs one query for the stored rows,
one per type it refers to (less what this call wrote already), one for its own conflicts, and
one bulk write for the new and changed rows. An item that is refused writes nothing and stops
nothing else. The outcomes come back in input order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from app.marketplace.ingest.bids import Bids
from app.marketplace.ingest.cleaners import Cleaners
from app.marketplace.ingest.clients import Clients
from app.marketplace.ingest.entity import Entity, Known, Pending, Refusal
from app.marketplace.ingest.fields import Invalid, RefList, external_id_check
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.jobs import Jobs
from app.marketplace.ingest.outcomes import CheckedItem, ErrorKind, FieldError, Item, ItemOutcome, Op, Status, refused
from app.marketplace.ingest.properties import Properties
from app.marketplace.ingest.reviews import Reviews
from app.marketplace.ingest.sql import OneOf

ENTITIES: dict[str, Entity] = {e.type: e for e in (Cleaners(), Clients(), Properties(), Jobs(), Bids(), Reviews())}
ORDER = tuple(ENTITIES)  # the dependency order: each type refers only to types before it
SLICE = 5000

logger = logging.getLogger(__name__)


@dataclass
class _Call:
    items: list[Item]
    outcomes: list[ItemOutcome | None]
    known: dict[str, dict[str, Known]] = field(default_factory=lambda: {t: {} for t in ORDER})
    changes: Changes = field(default_factory=Changes)

    def refuse(self, index: int, kind: ErrorKind, errors: list[FieldError]) -> None:
        self.outcomes[index] = refused(self.items[index], kind, errors)

    def done(self, index: int, status: Status, pk: int) -> None:
        item = self.items[index]
        self.outcomes[index] = ItemOutcome(item.type, item.external_id, status, id=pk)


# Times a call is run again after a concurrent writer took a unique value it checked as free.
CONFLICT_RETRIES = 3


def ingest_apply(items: Iterable[Item], *, dry_run: bool = False) -> list[ItemOutcome]:
    """Apply upserts and deletes of marketplace entities; one outcome per item, in input order.

    `dry_run`: everything is checked and written as it would be, then rolled back; the outcomes
    are those of a real run, except that rows it would create have no id.

    Two calls at once may both find a unique value free (a bid's job and cleaner, say) and
    write it; the later one's transaction then fails on the unique index. Run on its own (not
    inside a caller's transaction), the call is then run again from the start, and sees the
    other's row: an update, or the refusal a conflict gets.
    """
    items = list(items)
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            return _apply(items, dry_run)
        except IntegrityError:
            if attempt == CONFLICT_RETRIES or transaction.get_connection().in_atomic_block:
                raise
            logger.info("ingest: a concurrent write took a unique value; running the call again")
    raise AssertionError("unreachable")


def _apply(items: list[Item], dry_run: bool) -> list[ItemOutcome]:
    call = _Call(items, [None] * len(items))
    upserts: dict[str, list[int]] = {t: [] for t in ORDER}
    deletes: dict[str, list[int]] = {t: [] for t in ORDER}
    first: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        problem = None if type(item) is CheckedItem else _malformed(item)
        if problem is None and (item.type, item.external_id) in first:
            problem = refused(
                item,
                ErrorKind.DUPLICATE,
                [
                    FieldError(
                        "external_id", f"the same {item.type} is item {first[item.type, item.external_id]} already"
                    )
                ],
            )
        if problem is not None:
            call.outcomes[index] = problem
            continue
        first[item.type, item.external_id] = index
        (deletes if item.op == Op.DELETE else upserts)[item.type].append(index)
    with transaction.atomic():
        for name in ORDER:
            for start in range(0, len(upserts[name]), SLICE):
                _upsert(ENTITIES[name], upserts[name][start : start + SLICE], call)
        for name in reversed(ORDER):
            for start in range(0, len(deletes[name]), SLICE):
                _delete(ENTITIES[name], deletes[name][start : start + SLICE], call)
        if dry_run:
            transaction.set_rollback(True)
        else:
            call.changes.publish_on_commit()
    outcomes: list[ItemOutcome] = call.outcomes  # type: ignore[assignment]  # every slot is filled by now
    if dry_run:
        outcomes = [o._replace(id=None) if o.status == Status.CREATED else o for o in outcomes]
    return outcomes


def item_checked(item: Item) -> Item:
    """The item with its canonical values when its fields can be checked without the database.

    That is any valid full upsert (a partial one merges over the stored row). Touches no shared
    state, so a thread of its own may run it; anything refused is left for `ingest_apply` to
    refuse in order.
    """
    if item.partial or item.op != Op.UPSERT or _malformed(item) is not None:
        return item
    try:
        values = ENTITIES[item.type].validate(item, None)
    except Refusal:
        return item
    return CheckedItem(item.type, item.external_id, item.data, values=values)


def _malformed(item: Item) -> ItemOutcome | None:
    if item.type not in ENTITIES:
        return refused(item, ErrorKind.INVALID, [FieldError("type", f"{item.type!r} is not one of {', '.join(ORDER)}")])
    if item.op not in (Op.UPSERT, Op.DELETE):
        return refused(item, ErrorKind.INVALID, [FieldError("op", f"{item.op!r} is not upsert or delete")])
    try:
        external_id_check(item.external_id)
    except Invalid as exc:
        return refused(item, ErrorKind.INVALID, [FieldError("external_id", str(exc))])
    return None


def _upsert(entity: Entity, indices: list[int], call: _Call) -> None:
    items = call.items
    stored = entity.stored([items[i].external_id for i in indices])
    pending = []
    for index in indices:
        item = items[index]
        row = stored.get(item.external_id)
        if item.partial and row is None:
            call.refuse(
                index, ErrorKind.NOT_FOUND, [FieldError("", f"no {entity.type} {item.external_id!r} to update")]
            )
            continue
        try:
            values = item.values if type(item) is CheckedItem else entity.validate(item, row)
        except Refusal as refusal:
            call.refuse(index, refusal.kind, refusal.errors)
            continue
        pending.append(Pending(index, item.external_id, values, row))
    pending = _resolve(entity, pending, call)
    conflicts = entity.conflicts(pending)
    changed, known = [], call.known[entity.type]
    for p in pending:
        refusal = conflicts.get(p.index)
        if refusal is not None:
            call.refuse(p.index, refusal.kind, refusal.errors)
        elif p.stored is not None and p.values == p.stored.values:
            p.pk = p.stored.pk
            call.done(p.index, Status.UNCHANGED, p.pk)
            known[p.external_id] = entity.known(p)
        else:
            changed.append(p)
    if changed:
        entity.write(changed, call.changes)
    for p in changed:
        call.done(p.index, Status.CREATED if p.stored is None else Status.UPDATED, p.pk)
        known[p.external_id] = entity.known(p)


def _resolve(entity: Entity, pending: list[Pending], call: _Call) -> list[Pending]:
    """Set each item's `refs` to the rows it names; refuse the items that name one we do not have."""
    refused_at: dict[int, list[FieldError]] = {}
    for name, target in entity.references.items():
        known = call.known[target]
        values = [p.values[name] for p in pending]
        many = isinstance(entity.fields[name], RefList)
        wanted = {eid for value in values for eid in value} if many else set(values)
        wanted.discard(None)
        missing = [eid for eid in wanted if eid not in known]
        for start in range(0, len(missing), SLICE):
            known.update(ENTITIES[target].lookup(missing[start : start + SLICE]))
        get = known.get
        for p, value in zip(pending, values, strict=True):
            if many:
                rows = [get(eid) for eid in value]
                p.refs[name] = rows
                unknown = [eid for eid, row in zip(value, rows, strict=True) if row is None]
                if unknown:
                    shown = ", ".join(repr(eid) for eid in unknown[:5]) + (" …" if len(unknown) > 5 else "")
                    refused_at.setdefault(p.index, []).append(FieldError(name, f"no {target} {shown}"))
            elif value is None:
                p.refs[name] = None
            elif (row := get(value)) is not None:
                p.refs[name] = row
            else:
                refused_at.setdefault(p.index, []).append(FieldError(name, f"no {target} {value!r}"))
    for index, errors in refused_at.items():
        call.refuse(index, ErrorKind.UNKNOWN_REFERENCE, errors)
    return [p for p in pending if p.index not in refused_at] if refused_at else pending


def _delete(entity: Entity, indices: list[int], call: _Call) -> None:
    items = call.items
    found = dict(
        entity.model.objects.filter(OneOf("external_id", [items[i].external_id for i in indices])).values_list(
            "external_id", "pk"
        )
    )
    doomed = []
    for index in indices:
        pk = found.get(items[index].external_id)
        if pk is None:
            call.refuse(index, ErrorKind.NOT_FOUND, [FieldError("", f"no {entity.type} {items[index].external_id!r}")])
        else:
            doomed.append((index, pk))
    if doomed:
        entity.delete([pk for _, pk in doomed])
    for index, pk in doomed:
        call.done(index, Status.DELETED, pk)
        call.known[entity.type].pop(items[index].external_id, None)
