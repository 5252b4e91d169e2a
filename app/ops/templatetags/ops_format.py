"""Number and decision formatting for the operator page."""

from __future__ import annotations

import json
import math
from typing import Any

from django import template

register = template.Library()


def _number(value: Any) -> float | None:
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else None
    )


@register.filter
def num(value: Any, digits: int = 3) -> str:
    """A finite number to `digits` decimals; "–" for anything else (None, NaN, text)."""
    number = _number(value)
    return "–" if number is None else f"{number:.{int(digits)}f}"


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    number = _number(value)
    return "–" if number is None else f"{number * 100:.{int(digits)}f}%"


@register.filter
def decision_summary(decision: Any) -> str:
    """One line for a registry decision: its reason if it states one, else its scalar fields."""
    if not isinstance(decision, dict) or not decision:
        return "–"
    for key in ("reason", "summary", "message", "verdict"):
        if isinstance(decision.get(key), str) and decision[key]:
            return decision[key]
    scalars = [f"{k}: {v}" for k, v in decision.items() if isinstance(v, (str, int, float, bool)) and v != ""]
    return "; ".join(scalars[:4]) or "see details"


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
