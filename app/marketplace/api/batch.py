"""`POST /api/v1/marketplace/batch/`: up to 1000 upserts and deletes of mixed types in one call.

The core applies them in dependency order; the answer lists each item's outcome in input
order. An item that is malformed here (not an object, an unknown key, `partial` not a
boolean) is refused on its own, like any item the core refuses: the rest still apply.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from app.api.errors import Refused
from app.api.permissions import IsIntegration
from app.api.schema import COMMON, Problem, problems
from app.marketplace.ingest import ENTITY_TYPES, ErrorKind, FieldError, Item, ItemOutcome, Status, ingest_apply
from app.marketplace.ingest.outcomes import refused

from . import schema
from .idempotency import idempotent_call

MAX_ITEMS = 1000
ITEM_KEYS = frozenset({"type", "op", "external_id", "data", "partial"})


def batch_items(body: Any) -> list[Item | ItemOutcome]:
    """The body's items, each an `Item` or, when malformed here, its refusal. Raises for the body as a whole."""
    if not isinstance(body, dict) or set(body) != {"items"}:
        raise Refused(
            400, 'The body must be {"items": [...]}, and nothing else.', [{"field": "items", "message": "required"}]
        )
    items = body["items"]
    if not isinstance(items, list):
        raise Refused(400, "items: expected a list.", [{"field": "items", "message": "expected a list"}])
    if len(items) > MAX_ITEMS:
        message = f"at most {MAX_ITEMS} items in one batch, got {len(items)}: split it"
        raise Refused(413, f"items: {message}.", [{"field": "items", "message": message}])
    return [_item(raw) for raw in items]


def _item(raw: Any) -> Item | ItemOutcome:
    if not isinstance(raw, dict):
        return ItemOutcome(
            "", None, Status.ERROR, kind=ErrorKind.INVALID, errors=(FieldError("", "expected an object"),)
        )
    item = Item(
        raw.get("type"), raw.get("external_id"), raw.get("data"), raw.get("op", "upsert"), raw.get("partial", False)
    )
    unknown = sorted(str(k) for k in set(raw) - ITEM_KEYS)
    if unknown:
        return refused(
            item,
            ErrorKind.INVALID,
            [FieldError(k, "unknown key (an item has: type, op, external_id, data, partial)") for k in unknown],
        )
    if type(item.type) is not str:  # the core looks types up in a dict: a list would not even hash
        return refused(item, ErrorKind.INVALID, [FieldError("type", "expected one of " + ", ".join(ENTITY_TYPES))])
    if type(item.partial) is not bool:
        return refused(item, ErrorKind.INVALID, [FieldError("partial", "expected true or false")])
    if item.op == "delete" and item.data is not None:
        return refused(item, ErrorKind.INVALID, [FieldError("data", "a delete takes no data")])
    return item


def batch_apply(body: Any) -> tuple[int, str]:
    """The batch applied: (status, the answer's JSON text), the same bytes a retry gets again."""
    parsed = batch_items(body)
    items = [p for p in parsed if isinstance(p, Item)]
    applied = iter(ingest_apply(items)) if items else iter(())
    outcomes = [next(applied) if isinstance(p, Item) else p for p in parsed]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[str(outcome.status)] = counts.get(str(outcome.status), 0) + 1
    answer = {"items": [o.as_dict() for o in outcomes], "counts": counts}
    return 200, JSONRenderer().render(answer).decode()


class BatchView(APIView):
    """Apply a batch of items; with an Idempotency-Key, a retry answers exactly as the first call."""

    permission_classes = [IsIntegration]

    @extend_schema(
        summary="Upsert and delete up to 1000 entities of any types in one call",
        request={"application/json": schema.BATCH_REQUEST_SCHEMA},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="1-255 printable ASCII characters; kept 24 h. A retry with the same key and body "
                "gets the first answer again; the same key with another body is a 422.",
            )
        ],
        responses={
            200: OpenApiResponse(schema.BATCH_RESPONSE_SCHEMA, description="every item's outcome, in input order"),
            **problems(400, 403, 413, *COMMON),
            (422, "application/problem+json"): OpenApiResponse(
                Problem, description="This Idempotency-Key was used before with a different body."
            ),
        },
        tags=["sync: batch"],
        operation_id="marketplace_batch",
    )
    def post(self, request: Request) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            status, body = batch_apply(request.data)
        else:
            batch_items(request.data)  # a body refused as a whole is not recorded against the key
            status, body = idempotent_call(
                owner_id=request.user.pk, key=key, body=request.data, call=lambda: batch_apply(request.data)
            )
        return HttpResponse(body, status=status, content_type="application/json")
