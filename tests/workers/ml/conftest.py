"""Fixtures for the ML layer: a synthetic split with a known structure, and one training run on it."""

from __future__ import annotations

import pytest

from tests.workers.ml.synthetic import FACTOR_HEAVY, FEATURE_NAMES, SyntheticSplit, Trained, make_split
from workers.ml.hybrid import EpochStats, train_hybrid


@pytest.fixture(autouse=True)
def _isolated_models_dir() -> None:
    """Replace tests/conftest.py's Django-settings fixture: this layer needs no Django.

    Every test here passes its own directory, so there is nothing to isolate.
    """


@pytest.fixture(scope="session")
def synthetic() -> SyntheticSplit:
    return make_split()


@pytest.fixture(scope="session")
def trained(synthetic: SyntheticSplit) -> Trained:
    """One training run shared by the tests that only read its outcome."""
    reported: list[EpochStats] = []
    epochs, patience = 80, 5
    result = train_hybrid(
        synthetic.train,
        synthetic.val,
        epochs=epochs,
        patience=patience,
        seed=7,
        feature_names=FEATURE_NAMES,
        **FACTOR_HEAVY,
        on_epoch=reported.append,
    )
    return Trained(result, reported, epochs, patience)
