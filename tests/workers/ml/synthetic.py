"""Synthetic interaction data with a known hidden structure.

Ratings come from client and cleaner latent factors and biases (what the
collaborative part can learn) plus job, cleaner and distance effects (what the
content part can learn) plus Gaussian noise. Because the noise-free targets are
known, a test can compare the model with the best any model could do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workers.ml.hybrid import EpochStats, InteractionArrays, TrainResult

FEATURE_NAMES = {
    "client": ["job_hours", "job_rooms", "job_is_deep_clean", "client_tenure"],
    "cleaner": ["experience_years", "bid_ratio", "response_hours"],
    "pair": ["distance_km"],
}


@dataclass
class SyntheticSplit:
    train: InteractionArrays
    val: InteractionArrays
    test: InteractionArrays
    test_clean_targets: np.ndarray  # the test targets before noise was added


def make_split(
    *,
    n_clients: int = 150,
    n_cleaners: int = 40,
    ratings_per_client: int = 34,
    noise: float = 0.05,
    seed: int = 0,
) -> SyntheticSplit:
    """Per client: the last two ratings are test, the two before are val, the rest train."""
    rng = np.random.default_rng(seed)
    factors = 3
    client_factors = rng.normal(size=(n_clients, factors))
    cleaner_factors = rng.normal(size=(n_cleaners, factors))
    client_bias = rng.normal(scale=0.4, size=n_clients)
    cleaner_bias = rng.normal(scale=0.5, size=n_cleaners)
    # One cleaner feature is a noisy view of the cleaner's bias: content can
    # partly explain cleaner quality, as experience would in real data.
    cleaner_static = np.column_stack(
        [
            2.0 * cleaner_bias + rng.normal(scale=0.3, size=n_cleaners) + 5.0,
            rng.uniform(0.5, 1.5, size=n_cleaners),
            rng.exponential(4.0, size=n_cleaners),
        ]
    )
    client_tenure = rng.exponential(2.0, size=n_clients)

    n = n_clients * ratings_per_client
    client_row = np.repeat(np.arange(n_clients), ratings_per_client)
    cleaner_row = rng.integers(0, n_cleaners, size=n)
    jobs = np.column_stack([rng.uniform(1, 8, n), rng.integers(1, 6, n), rng.integers(0, 2, n)])
    distance = rng.uniform(0, 25, n)

    logit = (
        0.8 * np.sum(client_factors[client_row] * cleaner_factors[cleaner_row], axis=1) / np.sqrt(factors)
        + client_bias[client_row]
        + cleaner_bias[cleaner_row]
        + 0.25 * (jobs[:, 0] - 4.5)
        - 0.3 * jobs[:, 2]
        - 0.8 * (cleaner_static[cleaner_row, 1] - 1.0)
        - 0.06 * (distance - 12.5)
    )
    clean = 1.0 / (1.0 + np.exp(-logit))
    targets = np.clip(clean + rng.normal(scale=noise, size=n), 0.0, 1.0)

    arrays = InteractionArrays(
        # Raw ids are sparse and large, as database keys are.
        client_ids=(1000 + 7 * client_row).astype(np.int64),
        cleaner_ids=(50_000 + 13 * cleaner_row).astype(np.int64),
        client_features=np.column_stack([jobs, client_tenure[client_row]]).astype(np.float32),
        cleaner_features=cleaner_static[cleaner_row].astype(np.float32),
        pair_features=distance[:, None].astype(np.float32),
        targets=targets.astype(np.float32),
    )
    position = np.tile(np.arange(ratings_per_client), n_clients)
    test_rows = position >= ratings_per_client - 2
    val_rows = (position >= ratings_per_client - 4) & ~test_rows
    train_rows = ~(test_rows | val_rows)
    return SyntheticSplit(
        train=subset(arrays, train_rows),
        val=subset(arrays, val_rows),
        test=subset(arrays, test_rows),
        test_clean_targets=clean[test_rows].astype(np.float32),
    )


def subset(data: InteractionArrays, rows: np.ndarray) -> InteractionArrays:
    return InteractionArrays(
        client_ids=data.client_ids[rows],
        cleaner_ids=data.cleaner_ids[rows],
        client_features=data.client_features[rows],
        cleaner_features=data.cleaner_features[rows],
        pair_features=data.pair_features[rows],
        targets=None if data.targets is None else data.targets[rows],
    )


@dataclass
class Trained:
    result: TrainResult
    reported: list[EpochStats]  # what on_epoch received
    epochs: int
    patience: int


# This data is dominated by client x cleaner factors with many ratings per client, unlike
# the marketplace the defaults are tuned for: lighter regularisation suits it.
FACTOR_HEAVY = {
    "learning_rate": 1e-2,
    "embedding_lr_scale": 1.0,
    "hidden": (64, 32),
    "weight_decay": 1e-4,
    "embedding_l2": 1e-3,
    "client_bias_l2": 0.03,
    "cleaner_bias_l2": 0.03,
}
