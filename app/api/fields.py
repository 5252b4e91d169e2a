"""Input read strictly: what the API does not read exactly as written is a 400 that says why.

DRF's IntegerField takes `"5"`, `" 5"` and `5.0` for 5, and a serializer ignores fields it does
not declare, so a misspelt `limt` silently becomes the default. Here:

- `StrictIntegerField`: a JSON number with no fraction or exponent, not a string or a boolean;
- `QueryIntegerField`: a query-string parameter in ASCII digits only (`30`, not ` 30`, `30.0`, `+30`);
- `StrictInput`: a serializer that refuses every field it does not read, naming each.

Both integer fields default to the range of a 64-bit column (`DB_INT_MIN`..`DB_INT_MAX`, bigint
on PostgreSQL, INTEGER on SQLite), so that no value reaches SQL that a column cannot hold:
SQLite raises OverflowError for one, a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

DB_INT_MAX = 2**63 - 1
DB_INT_MIN = -(2**63)

_DIGITS = re.compile(r"[0-9]+")


class _BoundedIntegerField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", DB_INT_MIN)
        kwargs.setdefault("max_value", DB_INT_MAX)
        assert DB_INT_MIN <= kwargs["min_value"] and kwargs["max_value"] <= DB_INT_MAX, (
            f"{type(self).__name__}: keep min_value and max_value within DB_INT_MIN..DB_INT_MAX (a 64-bit column)"
        )
        super().__init__(**kwargs)


class StrictIntegerField(_BoundedIntegerField):
    """An integer written as a JSON integer, within a 64-bit column unless narrowed."""

    default_error_messages = {
        "invalid": "Must be an integer.",
        "string": "Must be an integer, not a string: write the number without quotes.",
        "boolean": "Must be an integer, not true or false.",
        "fraction": "Must be an integer written without a decimal point or an exponent (5, not 5.0 or 5e0).",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):  # before int: a bool is an int in Python
            self.fail("boolean")
        if isinstance(data, int):
            return data
        self.fail("fraction" if isinstance(data, float) else "string" if isinstance(data, str) else "invalid")


class QueryIntegerField(_BoundedIntegerField):
    """A whole number in a query string, in ASCII digits only, within a 64-bit column unless narrowed."""

    default_error_messages = {"digits": "Must be a whole number written in digits only, like 30."}

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not _DIGITS.fullmatch(data):
            self.fail("digits")
        if len(data.lstrip("0")) > len(str(DB_INT_MAX)):  # no int() of thousands of digits
            self.fail("max_value", max_value=self.max_value)
        return int(data)


UNKNOWN_FIELD = "Unknown field: this API does not read it (check its spelling against the schema)."


class StrictInput(serializers.Serializer):
    """A serializer for input that refuses the fields it does not read (read-only ones included).

    Checked in `to_internal_value`, so a nested or listed StrictInput refuses its own unknown
    fields, under their full names (`events[3].colour`).
    """

    def to_internal_value(self, data: Any) -> Any:
        unknown = {}
        if isinstance(data, Mapping):
            readable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {key: [UNKNOWN_FIELD] for key in data if key not in readable}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


EMPTY_QUERY_VALUE = "Give a value, or leave the parameter out."


class StrictQuery(serializers.Serializer):
    """A serializer for query parameters that refuses an empty value (`?since=`).

    DRF reads an empty query value of an optional field as "not given" and falls back to the
    default; a caller who wrote the parameter meant something by it, so say it is missing.
    """

    def to_internal_value(self, data: Any) -> Any:
        empty = {}
        if isinstance(data, Mapping):
            empty = {key: [EMPTY_QUERY_VALUE] for key in self.fields if key in data and data.get(key) == ""}
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)
