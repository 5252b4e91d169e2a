"""What goes into `ingest_apply` (an `Item`) and what comes out for each (an `ItemOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class Status(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ERROR = "error"


class ErrorKind(StrEnum):
    """Why an item was refused; `http_status` is the answer the sync API gives for it."""

    INVALID = "invalid"  # a malformed item: a value, a missing or an unknown field
    UNKNOWN_REFERENCE = "unknown_reference"  # names a client, cleaner, property or job we do not have
    DUPLICATE = "duplicate"  # the same type and external id earlier in the same call
    NOT_FOUND = "not_found"  # a delete or a partial update of something we do not have
    CONFLICT = "conflict"  # valid on its own but not against what is stored (a status transition, a pair taken)

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNKNOWN_REFERENCE: 422,
    ErrorKind.DUPLICATE: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
}


@dataclass(frozen=True, slots=True)
class Item:
    """One upsert or delete of one entity, named by its type and its external id.

    `data` is the external representation (see the entity modules), decoded JSON; it may repeat
    `external_id`, which must then be the same. `partial`: only the fields given change (PATCH);
    otherwise the item replaces the entity, and fields left out take their defaults (PUT).
    """

    type: str
    external_id: Any
    data: Any = None
    op: str = Op.UPSERT
    partial: bool = False


@dataclass(frozen=True, slots=True)
class CheckedItem(Item):
    """An item whose fields were checked ahead, off the database (`item_checked`): `values` are canonical.

    The bulk import checks the next chunk in a thread of its own while the database writes the
    current one; the core then uses these values instead of checking the item again.
    """

    values: Any = None


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # the external field's name, "external_id", or "" for the item as a whole
    message: str


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened to one item. `id`: the row's internal id (None on an error, and for rows a dry run creates)."""

    type: str
    external_id: Any
    status: Status
    id: int | None = None
    kind: ErrorKind | None = None
    errors: tuple[FieldError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status != Status.ERROR

    @property
    def message(self) -> str:
        """The errors as one readable line: `field: reason; field: reason`."""
        return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"type": self.type, "external_id": self.external_id, "status": str(self.status)}
        out["id"] = self.id
        if self.kind is not None:
            out["error"] = {
                "kind": str(self.kind),
                "errors": [{"field": e.field, "message": e.message} for e in self.errors],
            }
        return out


def refused(item: Item, kind: ErrorKind, errors: list[FieldError] | tuple[FieldError, ...]) -> ItemOutcome:
    return ItemOutcome(item.type, item.external_id, Status.ERROR, kind=kind, errors=tuple(errors))
