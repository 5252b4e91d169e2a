"""OpenAPI shapes of the sync API, built from the core's field tables (`Entity.fields`).

Each checker of `app.marketplace.ingest.fields` says what it takes; `field_schema` turns it into
JSON Schema. A checker this module does not know becomes a value with the checker's docstring
as its description, never a guess.
"""

from __future__ import annotations

from typing import Any

from app.marketplace.ingest import ENTITY_TYPES
from app.marketplace.ingest import fields as f
from app.marketplace.ingest.apply import ENTITIES
from app.marketplace.models import EXTERNAL_ID_PATTERN

EXTERNAL_ID_SCHEMA = {"type": "string", "pattern": f"^{EXTERNAL_ID_PATTERN}$", "maxLength": 64}


def field_schema(checker: f.Field) -> dict[str, Any]:
    if isinstance(checker, f.Email):
        out: dict[str, Any] = {"type": "string", "maxLength": checker.max_length, "description": "an email, or empty"}
    elif isinstance(checker, f.Text):
        out = {"type": "string", "maxLength": checker.max_length}
    elif isinstance(checker, f.Integer):
        out = {"type": "integer", "minimum": checker.low, "maximum": checker.high}
    elif isinstance(checker, f.Number):
        out = {"type": "number", "minimum": checker.low, "maximum": checker.high}
        if checker.above:
            out["exclusiveMinimum"] = True
    elif isinstance(checker, f.PositiveDecimal):
        out = {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": float(checker.high),
            "description": f"at most {checker.places} decimals",
        }
    elif isinstance(checker, f.Boolean):
        out = {"type": "boolean"}
    elif isinstance(checker, f.Choice):
        out = {"type": "string", "enum": sorted(checker.values)}
    elif isinstance(checker, f.NameSet):
        out = {"type": "array", "items": {"type": "string", "enum": list(checker.names)}, "uniqueItems": True}
    elif isinstance(checker, f.DateTime):
        out = {"type": "string", "format": "date-time"}
    elif isinstance(checker, f.Ref):
        out = {**EXTERNAL_ID_SCHEMA, "description": f"a {checker.target}'s external id"}
        if checker.nullable:
            out["nullable"] = True
    elif isinstance(checker, f.RefList):
        out = {"type": "array", "items": {**EXTERNAL_ID_SCHEMA}, "description": f"{checker.target} external ids"}
    else:
        out = {"description": (type(checker).__doc__ or type(checker).__name__).strip()}
    default = checker.default
    if default is not f.REQUIRED and default is not None and not isinstance(checker, f.NameSet | f.RefList):
        try:
            out["default"] = checker.dump(default)
        except Exception:  # a default with no JSON form is left out of the description, not guessed
            pass
    return out


def entity_schema(entity_type: str, *, partial: bool = False) -> dict[str, Any]:
    """The external representation of one type: every field, the required ones for a full upsert."""
    entity = ENTITIES[entity_type]
    properties = {"external_id": {**EXTERNAL_ID_SCHEMA, "description": "optional; the path's id if given"}}
    properties.update({name: field_schema(checker) for name, checker in entity.fields.items()})
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, checker in entity.fields.items() if checker.default is f.REQUIRED]
    if required and not partial:
        out["required"] = required
    return out


OUTCOME_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": list(ENTITY_TYPES)},
        "external_id": {"type": "string"},
        "status": {"type": "string", "enum": ["created", "updated", "unchanged", "deleted", "error"]},
        "id": {"type": "integer", "nullable": True, "description": "the internal id"},
        "error": {
            "type": "object",
            "description": "only on an error",
            "properties": {
                "kind": {
                    "type": "string",
                    "enum": ["invalid", "duplicate", "unknown_reference", "not_found", "conflict"],
                },
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
    },
    "required": ["type", "external_id", "status", "id"],
}


def written_schema(entity_type: str) -> dict[str, Any]:
    return {
        **OUTCOME_SCHEMA,
        "properties": {**OUTCOME_SCHEMA["properties"], "data": entity_schema(entity_type, partial=True)},
    }


BATCH_REQUEST_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "external_id"],
                "properties": {
                    "type": {"type": "string", "enum": list(ENTITY_TYPES)},
                    "op": {"type": "string", "enum": ["upsert", "delete"], "default": "upsert"},
                    "external_id": EXTERNAL_ID_SCHEMA,
                    "data": {
                        "type": "object",
                        "description": "the entity's external representation, as PUT (or PATCH with partial) "
                        "takes it: see PUT /api/v1/marketplace/{type}/{external_id}/ for each type",
                    },
                    "partial": {"type": "boolean", "default": False},
                },
            },
        }
    },
}

BATCH_RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": OUTCOME_SCHEMA, "description": "one per item, in input order"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "items per status"},
    },
}
