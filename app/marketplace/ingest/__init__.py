"""Marketplace data in and out, keyed by the marketplace's own ids: the core of the sync API and the bulk import.

Everything that writes marketplace data from outside calls one function::

    from app.marketplace.ingest import Item, ingest_apply

    outcomes = ingest_apply([
        Item("cleaner", "c-17", {"home_lat": 40.7, "home_lng": -74.0, "hourly_rate": 35}),
        Item("job", "j-42", {"status": "assigned", "assigned_cleaner": "c-17"}, partial=True),
        Item("bid", "b-9", op="delete"),
    ])                       # -> [ItemOutcome(type, external_id, status, id, kind, errors), …]

- `Item(type, external_id, data=None, op="upsert" | "delete", partial=False)`: `type` is one
  of `ENTITY_TYPES` (cleaner, client, property, job, bid, review); `data` the external
  representation, documented with each entity's module (`cleaners.py`, … `reviews.py`), with
  references by external id (`client`, `property`, `cleaner`, `job`, `assigned_cleaner`,
  `blocked_cleaners`). A full upsert replaces the entity (PUT: fields left out take their
  defaults); `partial=True` changes only the fields given (PATCH) and needs the entity to exist.
  A delete needs no data; deleting a cleaner or a client deletes their personal data and their
  user (`forget.py`); the jobs, bids and reviews others need stay without them, as history that
  is neither exported nor shown by `entity_get` (README, "Deleting a person").
- `ItemOutcome`, one per item in input order: `status` is created, updated, unchanged (the
  same content: nothing written), deleted or error; `id` the internal id; on an error `kind`
  (an `ErrorKind`, with the HTTP status the API answers: invalid 400, duplicate 400,
  unknown_reference 422, not_found 404, conflict 409) and `errors`, each a `FieldError(field,
  message)` naming the external field. `as_dict()` is its JSON form; `message` one line.
- `ingest_apply(items, *, dry_run=False)` runs in one transaction, in dependency order
  (cleaners, clients, properties, jobs, bids, reviews; then deletes, in the reverse order), so
  an item may refer to one created earlier in the same call. A refused item writes nothing
  and stops nothing else; the same type and external id twice is refused the second time;
  the same input again is `unchanged` throughout. `dry_run` checks and writes everything,
  then rolls back. A database failure raises and leaves nothing of the call.
- Errors by kind: a malformed value, an unknown or missing field, a string too long, a value
  out of range (with the reason) are `invalid`; a reference to something we do not have is
  `unknown_reference`; a job status change the life cycle refuses (lifecycle.py), a second bid
  of a cleaner on a job or a second review of a job are `conflict`.
- Freshness: the writes are bulk and send no signals; after the commit the call bumps what
  the signals would (freshness.py), so the next recommendation sees it; the cleaners of the
  jobs, bids and reviews written are rescored after commit (`cleaner_scores_update`).

Out: `entity_export(type, external_ids=None)` yields rows in the same representation (the
export command; re-importing it gives the same marketplace), `entity_get(type, external_id)`
one of them or None (the API's GET). Files: `importing.py` and `exporting.py` (JSON Lines and
CSV, the management commands `import_marketplace` and `export_marketplace`).
"""

from app.marketplace.ingest.apply import ORDER as ENTITY_TYPES
from app.marketplace.ingest.apply import ingest_apply
from app.marketplace.ingest.export import entity_export, entity_get
from app.marketplace.ingest.outcomes import ErrorKind, FieldError, Item, ItemOutcome, Op, Status

__all__ = [
    "ENTITY_TYPES",
    "ErrorKind",
    "FieldError",
    "Item",
    "ItemOutcome",
    "Op",
    "Status",
    "entity_export",
    "entity_get",
    "ingest_apply",
]
