"""Hybrid recommender: collaborative embeddings blended with a content MLP.

The model scores a (client, cleaner) pair with a number in [0, 1] (a rating
rescaled, e.g. ``(stars - 1) / 9``). It knows nothing of Django: it takes arrays
and returns arrays, so it can be trained and tested on any data of this shape.

Public interface::

    @dataclass
    class InteractionArrays:
        client_ids: np.ndarray        # int64 (n,)   raw ids of the "user" side
        cleaner_ids: np.ndarray       # int64 (n,)   raw ids of the "item" side
        client_features: np.ndarray   # float32 (n, dc) job + property + client
        cleaner_features: np.ndarray  # float32 (n, dk)
        pair_features: np.ndarray     # float32 (n, dp), dp may be 0
        targets: np.ndarray | None = None  # float32 in [0, 1]; needed to train

    train_hybrid(train, val, *, epochs=50, batch_size=256, learning_rate=1e-3,
                 patience=5, embedding_dim=16, hidden=(32,), weight_decay=1e-2,
                 embedding_l2=1e-2, client_bias_l2=0.3, cleaner_bias_l2=0.03,
                 embedding_lr_scale=10.0, seed=42, feature_names=None, on_epoch=None)
        -> TrainResult(model, history, metrics)
    predict(model, data) -> np.ndarray  # float32 (n,) in [0, 1]

How a row is scored::

    content_logit = MLP(normalised [client_features, cleaner_features, pair_features])
    correction    = <u_client, v_cleaner> + b_client + b_cleaner + b_global
    collab_logit  = content_logit + correction
    alpha         = sigmoid(alpha_logit)                  # learned, reported per epoch
    score         = sigmoid(a * collab_logit + (1 - a) * content_logit)
                  = sigmoid(content_logit + a * correction)

with ``a = alpha`` when both ids were seen in training and ``a = 0`` otherwise, so
an unseen client or cleaner is scored by the content part alone.

Why the collaborative predictor is built on the content score (the classic
"baseline + latent factors" model, with the baseline taken from the features)
rather than standing alone: with two independent logits, the MLP learns only to be
one half of a blend and its output on its own, which is all an unseen id gets, is
badly off (R² below zero on held-out rows in our synthetic tests). Built this way
the MLP is a complete predictor and the embeddings learn what the features cannot
explain; ``alpha`` says how far those per-id corrections are trusted. (It trades
off against the size of the embeddings, which are penalised, so it tends to
grow as training goes on: read it as a trend, not a calibrated share.) The id
embeddings and biases, and the global bias, carry an L2 penalty, so the overall
level stays in the content part.

Raw ids map to embedding rows through sorted vocabularies of the *training* ids,
looked up with ``np.searchsorted``. Feature means and standard deviations come
from the training rows and travel with the model, as do the feature names.

Training is full-tensor mini-batching (no DataLoader: at this size its overhead
would dominate), MSE loss, AdamW, early stopping on validation loss with the best
weights restored. The same seed gives bitwise-identical predictions; the caller's
global torch RNG is left as it was. Call ``torch.set_num_threads(1)`` in worker
processes; it is not done here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from workers.ml.metrics import rating_metrics

FEATURE_SIDES = ("client", "cleaner", "pair")

# Columns whose training std is below this are centred but not scaled (as
# scikit-learn's StandardScaler does), so a constant column cannot explode later.
STD_FLOOR = 1e-6


@dataclass
class InteractionArrays:
    """One row per (client, cleaner) interaction; see the module docstring."""

    client_ids: np.ndarray
    cleaner_ids: np.ndarray
    client_features: np.ndarray
    cleaner_features: np.ndarray
    pair_features: np.ndarray
    targets: np.ndarray | None = None

    def __len__(self) -> int:
        return int(np.shape(self.client_ids)[0])


@dataclass(frozen=True)
class HybridConfig:
    """Everything needed to rebuild the network's shapes."""

    n_clients: int
    n_cleaners: int
    n_client_features: int
    n_cleaner_features: int
    n_pair_features: int
    embedding_dim: int
    hidden: tuple[int, ...]

    @property
    def n_features(self) -> int:
        return self.n_client_features + self.n_cleaner_features + self.n_pair_features

    def to_dict(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, data: dict) -> HybridConfig:
        return cls(**{**data, "hidden": tuple(int(h) for h in data["hidden"])})


@dataclass(frozen=True)
class EpochStats:
    """Losses are the MSE of the blended score; ``alpha`` is the blend weight."""

    epoch: int
    train_loss: float
    val_loss: float
    alpha: float


class HybridNetwork(nn.Module):
    """The trainable part. Takes embedding indices and normalised features."""

    def __init__(self, config: HybridConfig) -> None:
        super().__init__()
        dim = config.embedding_dim
        self.client_embedding = nn.Embedding(config.n_clients, dim)
        self.cleaner_embedding = nn.Embedding(config.n_cleaners, dim)
        self.client_bias = nn.Embedding(config.n_clients, 1)
        self.cleaner_bias = nn.Embedding(config.n_cleaners, 1)
        self.global_bias = nn.Parameter(torch.zeros(()))
        self.alpha_logit = nn.Parameter(torch.zeros(()))
        self.content = _mlp(config.n_features, config.hidden)
        # Small embeddings start the collaborative part near "no opinion".
        nn.init.normal_(self.client_embedding.weight, std=0.05)
        nn.init.normal_(self.cleaner_embedding.weight, std=0.05)
        nn.init.zeros_(self.client_bias.weight)
        nn.init.zeros_(self.cleaner_bias.weight)

    @property
    def alpha(self) -> float:
        return float(torch.sigmoid(self.alpha_logit.detach()))

    def forward(
        self,
        client_idx: torch.Tensor,
        cleaner_idx: torch.Tensor,
        known: torch.Tensor,
        features: torch.Tensor,
    ) -> torch.Tensor:
        """Blended logit per row; ``known`` is 1.0 where both ids were seen in training."""
        content = self.content(features).squeeze(1)
        correction = (
            (self.client_embedding(client_idx) * self.cleaner_embedding(cleaner_idx)).sum(dim=1)
            + self.client_bias(client_idx).squeeze(1)
            + self.cleaner_bias(cleaner_idx).squeeze(1)
            + self.global_bias
        )
        weight = torch.sigmoid(self.alpha_logit) * known
        # a * collab + (1 - a) * content with collab = content + correction.
        return content + weight * correction


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


@dataclass
class TrainResult:
    model: HybridModel
    history: list[EpochStats]
    metrics: dict[str, float | int | bool]


def train_hybrid(
    train: InteractionArrays,
    val: InteractionArrays,
    *,
    epochs: int = 50,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    patience: int = 5,
    embedding_dim: int = 16,
    hidden: Sequence[int] = (32,),
    weight_decay: float = 1e-2,
    embedding_l2: float = 1e-2,
    client_bias_l2: float = 0.3,
    cleaner_bias_l2: float = 0.03,
    embedding_lr_scale: float = 10.0,
    seed: int = 42,
    feature_names: dict[str, list[str]] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> TrainResult:
    """Train on ``train``, early-stop on ``val``; both need ``targets``.

    The embeddings and biases learn ``embedding_lr_scale`` times faster than the
    MLP: a client appears in only a handful of batches per epoch, and at the MLP's
    1e-3 its embedding is still far from converged after 50 epochs (on the seed-42
    marketplace: 79% of the ceiling R² at one rate, 92% with the embeddings at 10x). ``weight_decay`` is AdamW's decay of the MLP weights. ``embedding_l2``
    penalises the embedding and bias rows used by each batch: clients have only a
    handful of ratings each, and unpenalised embeddings memorise them. ``client_bias_l2``
    and ``cleaner_bias_l2`` are ridge penalties on the per-id biases (see ``_bias_penalty``):
    cleaners have many ratings each and need little shrinkage, clients few and need more.
    ``metrics`` holds ``val_mse``, ``val_mae``, ``val_r2`` (best weights),
    ``best_epoch``, ``epochs_run`` and ``stopped_early``.
    """
    if epochs < 1 or batch_size < 1 or patience < 1:
        raise ValueError("epochs, batch_size and patience must all be at least 1.")
    mean, std = _normalisation(_check_arrays(train, "train", need_targets=True))
    client_vocab = np.unique(np.asarray(train.client_ids, dtype=np.int64))
    cleaner_vocab = np.unique(np.asarray(train.cleaner_ids, dtype=np.int64))
    config = HybridConfig(
        n_clients=client_vocab.size,
        n_cleaners=cleaner_vocab.size,
        n_client_features=train.client_features.shape[1],
        n_cleaner_features=train.cleaner_features.shape[1],
        n_pair_features=train.pair_features.shape[1],
        embedding_dim=embedding_dim,
        hidden=tuple(int(h) for h in hidden),
    )
    _check_arrays(val, "val", need_targets=True, config=config)
    names = _feature_names(feature_names, config)

    # fork_rng keeps the caller's global RNG untouched by our seeding.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = HybridNetwork(config)
    model = HybridModel(network, config, client_vocab, cleaner_vocab, mean, std, names)
    train_t = _to_tensors(model, train)
    val_t = _to_tensors(model, val)

    optimizer = torch.optim.AdamW(
        [
            {"params": network.content.parameters(), "weight_decay": weight_decay},
            # The collaborative part is regularised by embedding_l2 instead.
            {"params": _collab_parameters(network), "weight_decay": 0.0, "lr": learning_rate * embedding_lr_scale},
        ],
        lr=learning_rate,
    )
    generator = torch.Generator().manual_seed(seed)

    history: list[EpochStats] = []
    best_loss, best_epoch, best_state = math.inf, 0, _snapshot(network)
    for epoch in range(1, epochs + 1):
        train_loss = _train_one_epoch(
            network, optimizer, train_t, batch_size, embedding_l2, (client_bias_l2, cleaner_bias_l2), generator
        )
        val_loss = _mse(network, val_t)
        stats = EpochStats(epoch, train_loss, val_loss, network.alpha)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, _snapshot(network)
        elif epoch - best_epoch >= patience:
            break

    network.load_state_dict(best_state)
    network.eval()
    val_metrics = rating_metrics(predict(model, val), val.targets)
    metrics: dict[str, float | int | bool] = {
        **{f"val_{name}": value for name, value in val_metrics.items()},
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "stopped_early": len(history) < epochs,
    }
    return TrainResult(model=model, history=history, metrics=metrics)


def predict(model: HybridModel, data: InteractionArrays) -> np.ndarray:
    """Score every row: float32 (n,) in [0, 1]. Unseen ids get the content score."""
    features = _normalise(model, _check_arrays(data, "data", need_targets=False, config=model.config))
    client_idx, cleaner_idx, known = _lookup(model, data)
    with torch.inference_mode():
        logits = model.network(
            torch.from_numpy(client_idx),
            torch.from_numpy(cleaner_idx),
            torch.from_numpy(known),
            torch.from_numpy(features),
        )
        return torch.sigmoid(logits).numpy()


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


def _mlp(n_inputs: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _collab_parameters(network: HybridNetwork) -> list[nn.Parameter]:
    return [
        network.client_embedding.weight,
        network.cleaner_embedding.weight,
        network.client_bias.weight,
        network.cleaner_bias.weight,
        network.global_bias,
        network.alpha_logit,
    ]


def _train_one_epoch(
    network: HybridNetwork,
    optimizer: torch.optim.Optimizer,
    data: dict[str, torch.Tensor],
    batch_size: int,
    embedding_l2: float,
    bias_l2: tuple[float, float],
    generator: torch.Generator,
) -> float:
    """One pass in a seeded random order; returns the mean blended MSE."""
    network.train()
    n = data["targets"].shape[0]
    order = torch.randperm(n, generator=generator)
    total = 0.0
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        client_idx, cleaner_idx = data["client_idx"][rows], data["cleaner_idx"][rows]
        target = data["targets"][rows]
        logits = network(client_idx, cleaner_idx, data["known"][rows], data["features"][rows])
        mse = nn.functional.mse_loss(torch.sigmoid(logits), target)
        loss = (
            mse
            + embedding_l2 * _embedding_penalty(network, client_idx, cleaner_idx)
            + _bias_penalty(network, n, bias_l2)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += mse.item() * rows.shape[0]
    return total / n


def _embedding_penalty(network: HybridNetwork, client_idx: torch.Tensor, cleaner_idx: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of the embedding rows this batch used (frequent ids get more pull)."""
    squares = (
        network.client_embedding(client_idx).pow(2).sum(dim=1)
        + network.cleaner_embedding(cleaner_idx).pow(2).sum(dim=1)
    )
    # The global bias is penalised too, so the overall level stays in the content
    # part, which is all that unseen ids get.
    return squares.mean() + network.global_bias.pow(2)


def _bias_penalty(network: HybridNetwork, n_rows: int, bias_l2: tuple[float, float]) -> torch.Tensor:
    """Ridge on the per-id biases: a fixed prior per id, however often it appears.

    Unlike the per-row penalty of the embeddings, this shrinks an id with few ratings
    much more than one with many, the way a Bayesian mean does; a cleaner with twenty
    ratings keeps most of their own level.
    """
    client_l2, cleaner_l2 = bias_l2
    return (
        client_l2 * network.client_bias.weight.pow(2).sum() + cleaner_l2 * network.cleaner_bias.weight.pow(2).sum()
    ) / n_rows


def _mse(network: HybridNetwork, data: dict[str, torch.Tensor]) -> float:
    network.eval()
    with torch.inference_mode():
        logits = network(data["client_idx"], data["cleaner_idx"], data["known"], data["features"])
        return float(nn.functional.mse_loss(torch.sigmoid(logits), data["targets"]))


def _snapshot(network: HybridNetwork) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}


def _to_tensors(model: HybridModel, data: InteractionArrays) -> dict[str, torch.Tensor]:
    client_idx, cleaner_idx, known = _lookup(model, data)
    return {
        "client_idx": torch.from_numpy(client_idx),
        "cleaner_idx": torch.from_numpy(cleaner_idx),
        "known": torch.from_numpy(known),
        "features": torch.from_numpy(_normalise(model, _concat_features(data))),
        "targets": torch.from_numpy(np.asarray(data.targets, dtype=np.float32)),
    }


def _lookup(model: HybridModel, data: InteractionArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embedding rows for both sides, and 1.0 where both ids were seen in training.

    Unknown ids point at row 0; their ``known`` of 0.0 switches the collaborative
    part off, so whatever row 0 holds never reaches the score.
    """
    client_idx, client_known = _vocabulary_index(model.client_vocabulary, data.client_ids)
    cleaner_idx, cleaner_known = _vocabulary_index(model.cleaner_vocabulary, data.cleaner_ids)
    known = (client_known & cleaner_known).astype(np.float32)
    return client_idx, cleaner_idx, known


def _vocabulary_index(vocabulary: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int64)
    positions = np.minimum(np.searchsorted(vocabulary, ids), vocabulary.size - 1)
    found = vocabulary[positions] == ids
    return np.where(found, positions, 0), found


def _normalise(model: HybridModel, features: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((features - model.feature_mean) / model.feature_std)


def _concat_features(data: InteractionArrays) -> np.ndarray:
    return np.concatenate(
        (data.client_features, data.cleaner_features, data.pair_features),
        axis=1,
        dtype=np.float32,
    )


def _normalisation(train_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = train_features.astype(np.float64)
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std[std < STD_FLOOR] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def _feature_names(given: dict[str, list[str]] | None, config: HybridConfig) -> dict[str, list[str]]:
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


def _check_arrays(
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
    features = _concat_features(data)
    if features.shape[1] == 0:
        raise ValueError(f"{label} has no features; the content part needs at least one.")
    if not np.isfinite(features).all():
        raise ValueError(f"{label} features contain NaN or infinity.")
    if need_targets:
        targets = np.asarray(data.targets if data.targets is not None else [])
        if targets.shape != (n,) or not np.all((targets >= 0) & (targets <= 1)):
            raise ValueError(f"{label}.targets must be {n} values in [0, 1].")
    return features
