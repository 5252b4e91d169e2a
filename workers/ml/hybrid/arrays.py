"""The arrays the model reads: one row per interaction, checked before any torch sees them.

Plain numpy: the network, its training and its predictions all start from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from workers.ml.hybrid.network import HybridConfig

FEATURE_SIDES = ("client", "cleaner", "pair")

# Columns whose training std is below this are centred but not scaled (as
# scikit-learn's StandardScaler does), so a constant column cannot explode later.
STD_FLOOR = 1e-6


@dataclass
class InteractionArrays:
    """One row per (client, cleaner) interaction.

    ``targets`` are ratings rescaled to [0, 1] (e.g. ``(stars - 1) / 9``); only
    training and validation need them.
    """

    client_ids: np.ndarray  # int64 (n,)   raw ids of the "user" side
    cleaner_ids: np.ndarray  # int64 (n,)   raw ids of the "item" side
    client_features: np.ndarray  # float32 (n, dc) job + property + client
    cleaner_features: np.ndarray  # float32 (n, dk)
    pair_features: np.ndarray  # float32 (n, dp), dp may be 0
    targets: np.ndarray | None = None  # float32 (n,) in [0, 1]

    def __len__(self) -> int:
        return int(np.shape(self.client_ids)[0])


def concat_features(data: InteractionArrays) -> np.ndarray:
    """The three feature sides side by side, in ``FEATURE_SIDES`` order, as float32."""
    return np.concatenate(
        (data.client_features, data.cleaner_features, data.pair_features),
        axis=1,
        dtype=np.float32,
    )


def normalisation(train_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of the training rows (float32), with ``STD_FLOOR`` applied."""
    features = train_features.astype(np.float64)
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std[std < STD_FLOOR] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def checked_feature_names(given: dict[str, list[str]] | None, config: HybridConfig) -> dict[str, list[str]]:
    """The caller's names per side, checked against the column counts; ``client_0``... if none."""
    widths = {
        "client": config.n_client_features,
        "cleaner": config.n_cleaner_features,
        "pair": config.n_pair_features,
    }
    if given is None:
        return {side: [f"{side}_{i}" for i in range(width)] for side, width in widths.items()}
    names = {side: [str(name) for name in given.get(side, [])] for side in FEATURE_SIDES}
    for side, width in widths.items():
        if len(names[side]) != width:
            raise ValueError(f"feature_names[{side!r}] has {len(names[side])} names for {width} columns.")
    return names


def check_arrays(
    data: InteractionArrays,
    label: str,
    *,
    need_targets: bool,
    config: HybridConfig | None = None,
) -> np.ndarray:
    """Raise ValueError with a readable message when shapes or values are wrong.

    Returns the concatenated raw features, which every caller needs next.
    """
    n = len(data)
    if need_targets and n == 0:
        raise ValueError(f"{label} has no rows.")
    expected = {
        "client_ids": (n,),
        "cleaner_ids": (n,),
        "client_features": (n, config.n_client_features if config else None),
        "cleaner_features": (n, config.n_cleaner_features if config else None),
        "pair_features": (n, config.n_pair_features if config else None),
    }
    for name, shape in expected.items():
        actual = np.shape(getattr(data, name))
        if len(actual) != len(shape) or any(want is not None and got != want for got, want in zip(actual, shape)):
            wanted = tuple("any" if s is None else s for s in shape)
            raise ValueError(f"{label}.{name} has shape {actual}, expected {wanted}.")
    features = concat_features(data)
    if features.shape[1] == 0:
        raise ValueError(f"{label} has no features; the content part needs at least one.")
    if not np.isfinite(features).all():
        raise ValueError(f"{label} features contain NaN or infinity.")
    if need_targets:
        targets = np.asarray(data.targets if data.targets is not None else [])
        if targets.shape != (n,) or not np.all((targets >= 0) & (targets <= 1)):
            raise ValueError(f"{label}.targets must be {n} values in [0, 1].")
    return features
