"""One marketplace entity by its external id: PUT (create or replace), PATCH, DELETE, GET.

Integration keys only (`IsIntegration`): clients, cleaners and operators get 403, no credential
401. Each write is one `Item` through `ingest_apply`; a refused item is answered with its
kind's HTTP status (`ErrorKind.http_status`) and its field errors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.api.errors import Refused
from app.api.permissions import IsIntegration
from app.api.schema import COMMON, Problem, problems
from app.marketplace.ingest import Item, ItemOutcome, Op, Status, entity_get, ingest_apply
from app.marketplace.ingest.files import PLURAL

from . import schema


def outcome_raise(outcome: ItemOutcome) -> None:
    """A refused item as the problem its kind answers: 400, 404, 409 or 422, naming each field."""
    if outcome.ok:
        return
    assert outcome.kind is not None
    errors = [{"field": e.field or None, "message": e.message} for e in outcome.errors]
    raise Refused(outcome.kind.http_status, f"{outcome.type} {outcome.external_id}: {outcome.message}", errors)


class EntityView(APIView):
    """Subclassed once per entity type (`entity_view`), so the schema shows each type's fields."""

    permission_classes = [IsIntegration]
    entity_type: ClassVar[str]

    def get(self, request: Request, external_id: str) -> Response:
        data = entity_get(self.entity_type, external_id)
        if data is None:
            raise Http404
        return Response(data)

    def put(self, request: Request, external_id: str) -> Response:
        return self._write(Item(self.entity_type, external_id, request.data))

    def patch(self, request: Request, external_id: str) -> Response:
        return self._write(Item(self.entity_type, external_id, request.data, partial=True))

    def delete(self, request: Request, external_id: str) -> Response:
        (outcome,) = ingest_apply([Item(self.entity_type, external_id, op=Op.DELETE)])
        outcome_raise(outcome)
        return Response(status=204)

    def _write(self, item: Item) -> Response:
        (outcome,) = ingest_apply([item])
        outcome_raise(outcome)
        body: dict[str, Any] = {**outcome.as_dict(), "data": entity_get(item.type, item.external_id)}
        return Response(body, status=201 if outcome.status == Status.CREATED else 200)


def entity_view(entity_type: str) -> type[EntityView]:
    plural = PLURAL[entity_type]
    tags = [f"sync: {plural}"]
    full = {"application/json": schema.entity_schema(entity_type)}
    partial = {"application/json": schema.entity_schema(entity_type, partial=True)}
    written = schema.written_schema(entity_type)
    refusals = problems(400, 403, 404, 409, 413, *COMMON)
    refusals[(422, "application/problem+json")] = OpenApiResponse(
        Problem,
        description="A reference (client, property, cleaner, job) to something the service does not have.",
    )
    view = type(
        f"{entity_type.title()}SyncView", (EntityView,), {"entity_type": entity_type, "__doc__": EntityView.__doc__}
    )
    decorations = {
        "get": extend_schema(
            summary=f"One {entity_type} in the external representation",
            responses={200: partial["application/json"], **problems(403, 404, *COMMON)},
            tags=tags,
            operation_id=f"marketplace_{plural}_get",
        ),
        "put": extend_schema(
            summary=f"Create or replace a {entity_type} (fields left out take their defaults)",
            request=full,
            responses={
                201: OpenApiResponse(written, description="created"),
                200: OpenApiResponse(written, description="updated, or unchanged (the same content)"),
                **refusals,
            },
            tags=tags,
            operation_id=f"marketplace_{plural}_put",
        ),
        "patch": extend_schema(
            summary=f"Change some fields of a {entity_type} (404 if there is none)",
            request=partial,
            responses={200: OpenApiResponse(written, description="updated or unchanged"), **refusals},
            tags=tags,
            operation_id=f"marketplace_{plural}_patch",
        ),
        "delete": extend_schema(
            summary=f"Delete a {entity_type}"
            + (" and their personal data (see the README)" if entity_type in ("cleaner", "client") else ""),
            request=None,
            responses={204: None, **problems(403, 404, *COMMON)},
            tags=tags,
            operation_id=f"marketplace_{plural}_delete",
        ),
    }
    for method, decorate in decorations.items():
        setattr(view, method, decorate(_copy(getattr(EntityView, method))))
    return view


def _copy(function):
    # extend_schema marks the function it decorates: each type needs its own copy of the method.
    def method(self, request, external_id):
        return function(self, request, external_id)

    method.__name__, method.__doc__ = function.__name__, function.__doc__
    return method
