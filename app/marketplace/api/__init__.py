"""The sync API: the marketplace's backend writes its data by its own ids (integration keys only).

Thin views over `app.marketplace.ingest.ingest_apply`: `views.py` one entity per call (PUT,
PATCH, DELETE, GET), `batch.py` up to 1000 items in one call with an optional Idempotency-Key
(`idempotency.py`), `schema.py` the request and response shapes, read from the core's own
field tables so that the schema cannot drift from what the core checks.
"""
