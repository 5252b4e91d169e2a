"""Hybrid recommender: collaborative embeddings blended with a content MLP.

The model scores a (client, cleaner) pair with a number in [0, 1] (a rating
rescaled, e.g. ``(stars - 1) / 9``). It knows nothing of Django: it takes arrays
and returns arrays, so it can be trained and tested on any data of this shape.

Public interface, importable from here::

    InteractionArrays(client_ids, cleaner_ids, client_features, cleaner_features,
                      pair_features, targets=None)                      # arrays.py
    train_hybrid(train, val, *, options=None, feature_names=None, on_epoch=None,
                 **overrides) -> TrainResult(model, history, metrics)   # training.py
    predict(model, data) -> np.ndarray  # float32 (n,) in [0, 1]         # prediction.py

``options`` is a ``TrainingOptions`` (its defaults if None); ``overrides`` replace
its fields by name (``epochs=80, seed=7``). ``network.py`` holds the torch module
and says how a row is scored; ``model.py`` the trained model with its id
vocabularies and normalisation (``build_model`` reassembles a saved one).
"""

from workers.ml.hybrid.arrays import FEATURE_SIDES, STD_FLOOR, InteractionArrays
from workers.ml.hybrid.model import HybridModel, build_model
from workers.ml.hybrid.network import HybridConfig, HybridNetwork
from workers.ml.hybrid.prediction import predict
from workers.ml.hybrid.training import EpochStats, TrainingOptions, TrainResult, train_hybrid

__all__ = [
    "FEATURE_SIDES",
    "STD_FLOOR",
    "EpochStats",
    "HybridConfig",
    "HybridModel",
    "HybridNetwork",
    "InteractionArrays",
    "TrainResult",
    "TrainingOptions",
    "build_model",
    "predict",
    "train_hybrid",
]
