"""store.json_safe: any metrics or metadata in, strict JSON data out."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np

from workers.ml.store import json_safe


def test_it_turns_nan_and_infinity_into_none():
    assert json_safe(math.nan) is None
    assert json_safe(math.inf) is None
    assert json_safe(-math.inf) is None
    assert json_safe(np.float32("nan")) is None
    assert json_safe(np.float64("-inf")) is None


def test_it_goes_through_dicts_lists_and_tuples():
    value = {"a": [1.0, math.nan, (math.inf, {"b": -math.inf})], "c": ({"d": [math.nan]},)}
    assert json_safe(value) == {"a": [1.0, None, [None, {"b": None}]], "c": [{"d": [None]}]}


def test_it_makes_numpy_values_plain():
    safe = json_safe({"n": np.int64(3), "x": np.float32(0.5), "flag": np.bool_(True), "v": np.array([1.5, np.nan])})
    assert safe == {"n": 3, "x": 0.5, "flag": True, "v": [1.5, None]}
    assert type(safe["n"]) is int and type(safe["x"]) is float and type(safe["flag"]) is bool


def test_it_makes_keys_strings():
    assert json_safe({1: "one", (2, 3): "pair"}) == {"1": "one", "(2, 3)": "pair"}


def test_it_leaves_other_values_alone():
    moment = datetime(2024, 1, 2, tzinfo=UTC)
    for value in ("text", None, True, 7, 0.25):
        assert json_safe(value) == value
    # Not JSON, and not its business: the caller's json.dumps(default=...) decides.
    assert json_safe(moment) is moment


def test_its_output_passes_strict_json():
    value = {"metrics": {"r2": np.float64("nan"), "mse": np.float32(0.01)}, "history": [(1, math.inf)]}
    json.dumps(json_safe(value), allow_nan=False)
