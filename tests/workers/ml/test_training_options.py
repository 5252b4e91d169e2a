"""train_hybrid's options: a frozen TrainingOptions, or its fields as keywords."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from tests.support import ROOT
from tests.workers.ml.synthetic import subset
from workers.ml.hybrid import TrainingOptions, predict, train_hybrid


@pytest.fixture(scope="module")
def small(synthetic):
    return subset(synthetic.train, np.arange(len(synthetic.train)) < 300)


def test_it_trains_the_same_from_options_as_from_keywords(synthetic, small):
    from_options = train_hybrid(small, synthetic.val, options=TrainingOptions(epochs=2, hidden=(8,), seed=3))
    from_keywords = train_hybrid(small, synthetic.val, epochs=2, hidden=[8], seed=3)
    test = synthetic.test
    np.testing.assert_array_equal(predict(from_options.model, test), predict(from_keywords.model, test))
    assert from_options.history == from_keywords.history


def test_it_lets_keywords_override_the_options(synthetic, small):
    result = train_hybrid(small, synthetic.val, options=TrainingOptions(epochs=5, seed=3), epochs=1)
    assert result.metrics["epochs_run"] == 1


def test_it_rejects_an_unknown_option(synthetic, small):
    with pytest.raises(TypeError, match="learning_rat"):
        train_hybrid(small, synthetic.val, learning_rat=0.1)


@pytest.mark.parametrize("field", ["epochs", "batch_size", "patience"])
def test_it_rejects_counts_below_one(synthetic, small, field):
    with pytest.raises(ValueError, match="must all be at least 1"):
        TrainingOptions(**{field: 0})
    with pytest.raises(ValueError, match="must all be at least 1"):
        train_hybrid(small, synthetic.val, **{field: 0})


def test_its_options_are_frozen_and_hold_hidden_as_a_tuple():
    options = TrainingOptions(hidden=[16, 8])
    assert options.hidden == (16, 8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.epochs = 3  # type: ignore[misc]


def test_it_keeps_every_name_callers_import():
    import workers.ml.hybrid as hybrid

    for name in (
        "FEATURE_SIDES", "EpochStats", "HybridConfig", "HybridModel", "InteractionArrays",
        "TrainResult", "build_model", "predict", "train_hybrid",
    ):  # fmt: skip
        assert name in hybrid.__all__ and hasattr(hybrid, name), name


def test_the_ml_layer_imports_no_django():
    code = "import sys, workers.ml.hybrid, workers.ml.store, workers.ml.metrics; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "workers/ml must not import Django: it takes arrays, not models"
