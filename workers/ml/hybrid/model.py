"""A trained network with what turns raw arrays into its inputs: id vocabularies, normalisation.

Raw ids map to embedding rows through sorted vocabularies of the *training* ids,
looked up with ``np.searchsorted``. Feature means and standard deviations come
from the training rows and travel with the model, as do the feature names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from workers.ml.hybrid.arrays import InteractionArrays
from workers.ml.hybrid.network import HybridConfig, HybridNetwork


@dataclass
class HybridModel:
    """A trained network with everything needed to turn raw arrays into its inputs."""

    network: HybridNetwork
    config: HybridConfig
    client_vocabulary: np.ndarray  # sorted int64 raw ids; position = embedding row
    cleaner_vocabulary: np.ndarray
    feature_mean: np.ndarray  # float32 (n_features,), sides concatenated
    feature_std: np.ndarray
    feature_names: dict[str, list[str]] = field(default_factory=dict)

    @property
    def alpha(self) -> float:
        return self.network.alpha


def build_model(
    config: HybridConfig,
    state_dict: dict[str, torch.Tensor],
    *,
    client_vocabulary: np.ndarray,
    cleaner_vocabulary: np.ndarray,
    feature_mean: np.ndarray,
    feature_std: np.ndarray,
    feature_names: dict[str, list[str]],
) -> HybridModel:
    """Reassemble a saved model; ``load_state_dict`` is strict, so shapes must match."""
    client_vocab = np.asarray(client_vocabulary, dtype=np.int64)
    cleaner_vocab = np.asarray(cleaner_vocabulary, dtype=np.int64)
    if client_vocab.size != config.n_clients or cleaner_vocab.size != config.n_cleaners:
        raise ValueError("Vocabulary sizes do not match the model config.")
    network = HybridNetwork(config)
    network.load_state_dict(state_dict, strict=True)
    network.eval()
    return HybridModel(
        network=network,
        config=config,
        client_vocabulary=client_vocab,
        cleaner_vocabulary=cleaner_vocab,
        feature_mean=np.asarray(feature_mean, dtype=np.float32),
        feature_std=np.asarray(feature_std, dtype=np.float32),
        feature_names=feature_names,
    )


def lookup_ids(model: HybridModel, data: InteractionArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embedding rows for both sides, and 1.0 where both ids were seen in training.

    Unknown ids point at row 0; their ``known`` of 0.0 switches the collaborative
    part off, so whatever row 0 holds never reaches the score.
    """
    client_idx, client_known = _vocabulary_index(model.client_vocabulary, data.client_ids)
    cleaner_idx, cleaner_known = _vocabulary_index(model.cleaner_vocabulary, data.cleaner_ids)
    known = (client_known & cleaner_known).astype(np.float32)
    return client_idx, cleaner_idx, known


def normalise_features(model: HybridModel, features: np.ndarray) -> np.ndarray:
    """Raw concatenated features scaled with the training mean and std."""
    return np.ascontiguousarray((features - model.feature_mean) / model.feature_std)


def _vocabulary_index(vocabulary: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int64)
    positions = np.minimum(np.searchsorted(vocabulary, ids), vocabulary.size - 1)
    found = vocabulary[positions] == ids
    return np.where(found, positions, 0), found
