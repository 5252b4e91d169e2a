"""Scoring: raw interaction arrays in, one score in [0, 1] per row out."""

from __future__ import annotations

import numpy as np
import torch

from workers.ml.hybrid.arrays import InteractionArrays, check_arrays
from workers.ml.hybrid.model import HybridModel, lookup_ids, normalise_features


def predict(model: HybridModel, data: InteractionArrays) -> np.ndarray:
    """Score every row: float32 (n,) in [0, 1]. Unseen ids get the content score."""
    features = normalise_features(model, check_arrays(data, "data", need_targets=False, config=model.config))
    client_idx, cleaner_idx, known = lookup_ids(model, data)
    with torch.inference_mode():
        logits = model.network(
            torch.from_numpy(client_idx),
            torch.from_numpy(cleaner_idx),
            torch.from_numpy(known),
            torch.from_numpy(features),
        )
        return torch.sigmoid(logits).numpy()
