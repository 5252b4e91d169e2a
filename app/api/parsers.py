"""The API's JSON parser: a body that would crash or fool Python's json module is a 400 first.

`json` parses recursively, so a body nested a few thousand levels deep raises RecursionError
(a 500 on every JSON endpoint, the anonymous login included); it accepts a lone surrogate
(`"\\ud800"`), a string no UTF-8 encoder can write, so the error that repeats it cannot be
rendered (another 500); and it lets the last of two equal keys win, where other parsers (a
proxy's, a log pipeline's) may take the first. `json_text_load` refuses, in this order:

- nesting deeper than `MAX_DEPTH`, found by an iterative scan before `json` sees the text;
- NaN and Infinity, which are not JSON (DRF's STRICT_JSON);
- a key given twice in one object;
- a string, key or value, that cannot be encoded as UTF-8, naming where it is (`events[3].event`).

The cached-answer fast path (app/recommendations/api/fast.py) reads bodies with the same
function, so that it accepts exactly what the DRF view accepts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

# Deeper than any body of this API needs (a feedback batch is 3 levels), far below the depth
# at which `json` runs out of stack.
MAX_DEPTH = 32

# A string (to its closing quote, or to the end of an unterminated one: each character is read
# once, whatever the quoting) or a bracket. Possessive: no backtracking.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|([\[{])|[\]}]', re.DOTALL)
# A \u escape of a UTF-16 surrogate: the only way JSON text decoded from bytes can hold one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BodyRefused(ValueError):
    """A body `json_text_load` refuses; `field` names where, when it can."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot be deeper
    depth = 0
    for token in _TOKENS.finditer(text):
        if token.lastindex:
            depth += 1
            if depth > MAX_DEPTH:
                raise BodyRefused(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
        elif text[token.start()] != '"':
            depth -= 1


def _refuse_constant(name: str) -> None:
    raise BodyRefused(f"{name} is not a JSON value.")


def _quoted(key: str) -> str:
    # Escaped to ASCII: the key may be anything the client wrote, a lone surrogate included.
    text = json.dumps(key)
    return text if len(text) <= 80 else text[:77] + '..."'


def _object(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise BodyRefused(f"The key {_quoted(twice)} appears more than once in one object.")
    return obj


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unencodable_at(value: Any, path: str = "") -> str | None:
    """Where the first string that UTF-8 cannot encode is ("" for the body itself); None: nowhere.

    Recursive, but only over a value whose depth `_check_depth` has bounded.
    """
    if isinstance(value, str):
        return None if _encodable(value) else path
    if isinstance(value, list):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    elif isinstance(value, dict):
        for key in value:
            if not _encodable(key):
                return path
        items = ((f"{path}.{key}" if path else key, item) for key, item in value.items())
    else:
        return None
    for where, item in items:
        found = _unencodable_at(item, where)
        if found is not None:
            return found
    return None


def json_text_load(text: str) -> Any:
    """`json.loads(text)`, refusing what this module's docstring lists: raises ValueError (`BodyRefused`, or json's own)."""
    _check_depth(text)
    data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object)
    if _SURROGATE_ESCAPE.search(text):
        where = _unencodable_at(data)
        if where is not None:
            raise BodyRefused(
                "Not valid text: it holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape), "
                "which cannot be encoded as UTF-8.",
                field=where or None,
            )
    return data


class StrictJSONParser(JSONParser):
    """DRF's JSONParser reading with `json_text_load`: every refusal is a 400 problem."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            return json_text_load(stream.read().decode(encoding))
        except BodyRefused as exc:
            if exc.field:
                raise exceptions.ValidationError({exc.field: [str(exc)]}) from None
            raise exceptions.ParseError(str(exc)) from None
        except ValueError as exc:  # json's own errors, and bytes that are not text in `encoding`
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
