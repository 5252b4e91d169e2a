"""Training: seeded mini-batches, MSE with penalties, early stopping with the best weights restored.

Full-tensor mini-batching (no DataLoader: at this size its overhead would dominate),
MSE loss, AdamW, early stopping on validation loss. The same seed gives
bitwise-identical predictions; the caller's global torch RNG is left as it was. Call
``torch.set_num_threads(1)`` in worker processes; it is not done here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from workers.ml.hybrid.arrays import (
    InteractionArrays,
    check_arrays,
    checked_feature_names,
    concat_features,
    normalisation,
)
from workers.ml.hybrid.model import HybridModel, lookup_ids, normalise_features
from workers.ml.hybrid.network import HybridConfig, HybridNetwork
from workers.ml.hybrid.prediction import predict
from workers.ml.metrics import rating_metrics


@dataclass(frozen=True)
class TrainingOptions:
    """How ``train_hybrid`` trains; the defaults are tuned for the marketplace.

    The embeddings and biases learn ``embedding_lr_scale`` times faster than the
    MLP: a client appears in only a handful of batches per epoch, and at the MLP's
    1e-3 its embedding is still far from converged after 50 epochs (on the seed-42
    marketplace: 79% of the ceiling R² at one rate, 92% with the embeddings at 10x).
    ``weight_decay`` is AdamW's decay of the MLP weights. ``embedding_l2``
    penalises the embedding rows used by each batch, and the global bias: clients
    have only a handful of ratings each, and unpenalised embeddings memorise them.
    ``client_bias_l2`` and ``cleaner_bias_l2`` are ridge penalties on the per-id biases
    (see ``_bias_penalty``): cleaners have many ratings each and need little
    shrinkage, clients few and need more.
    """

    epochs: int = 50
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 5  # epochs without a better validation loss before stopping
    embedding_dim: int = 16
    hidden: tuple[int, ...] = (32,)  # widths of the MLP's hidden layers
    weight_decay: float = 1e-2
    embedding_l2: float = 1e-2
    client_bias_l2: float = 0.3
    cleaner_bias_l2: float = 0.03
    embedding_lr_scale: float = 10.0
    seed: int = 42

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must all be at least 1.")
        # Any sequence of widths is accepted, as it always was; frozen, hence object.__setattr__.
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))


@dataclass(frozen=True)
class EpochStats:
    """Losses are the MSE of the blended score; ``alpha`` is the blend weight."""

    epoch: int
    train_loss: float
    val_loss: float
    alpha: float


@dataclass
class TrainResult:
    model: HybridModel
    history: list[EpochStats]
    metrics: dict[str, float | int | bool]


def train_hybrid(
    train: InteractionArrays,
    val: InteractionArrays,
    *,
    options: TrainingOptions | None = None,
    feature_names: dict[str, list[str]] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train on ``train``, early-stop on ``val``; both need ``targets``.

    ``options`` defaults to ``TrainingOptions()``. ``overrides`` replace its fields by
    name (``epochs=80, seed=7``), the keyword form callers used before
    ``TrainingOptions`` existed; an unknown name raises TypeError. ``on_epoch`` gets
    each epoch's stats as it ends. ``metrics`` holds ``val_mse``, ``val_mae``,
    ``val_r2`` (best weights), ``best_epoch``, ``epochs_run`` and ``stopped_early``.
    """
    options = dataclasses.replace(options if options is not None else TrainingOptions(), **overrides)
    model = _untrained_model(train, val, options, feature_names)
    history, best_epoch = _fit(model.network, _to_tensors(model, train), _to_tensors(model, val), options, on_epoch)
    val_metrics = rating_metrics(predict(model, val), val.targets)
    metrics: dict[str, float | int | bool] = {
        **{f"val_{name}": value for name, value in val_metrics.items()},
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "stopped_early": len(history) < options.epochs,
    }
    return TrainResult(model=model, history=history, metrics=metrics)


def _untrained_model(
    train: InteractionArrays,
    val: InteractionArrays,
    options: TrainingOptions,
    feature_names: dict[str, list[str]] | None,
) -> HybridModel:
    """Check both sets, then vocabularies and normalisation from ``train`` and a seeded network."""
    mean, std = normalisation(check_arrays(train, "train", need_targets=True))
    client_vocab = np.unique(np.asarray(train.client_ids, dtype=np.int64))
    cleaner_vocab = np.unique(np.asarray(train.cleaner_ids, dtype=np.int64))
    config = HybridConfig(
        n_clients=client_vocab.size,
        n_cleaners=cleaner_vocab.size,
        n_client_features=train.client_features.shape[1],
        n_cleaner_features=train.cleaner_features.shape[1],
        n_pair_features=train.pair_features.shape[1],
        embedding_dim=options.embedding_dim,
        hidden=options.hidden,
    )
    check_arrays(val, "val", need_targets=True, config=config)
    names = checked_feature_names(feature_names, config)
    # fork_rng keeps the caller's global RNG untouched by our seeding.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        network = HybridNetwork(config)
    return HybridModel(network, config, client_vocab, cleaner_vocab, mean, std, names)


def _fit(
    network: HybridNetwork,
    train: dict[str, torch.Tensor],
    val: dict[str, torch.Tensor],
    options: TrainingOptions,
    on_epoch: Callable[[EpochStats], None] | None,
) -> tuple[list[EpochStats], int]:
    """Run the epochs with early stopping, restore the best weights; return the history and best epoch."""
    optimizer = _optimizer(network, options)
    generator = torch.Generator().manual_seed(options.seed)
    history: list[EpochStats] = []
    best_loss, best_epoch, best_state = math.inf, 0, _snapshot(network)
    for epoch in range(1, options.epochs + 1):
        train_loss = _train_one_epoch(network, optimizer, train, options, generator)
        val_loss = _mse(network, val)
        stats = EpochStats(epoch, train_loss, val_loss, network.alpha)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, _snapshot(network)
        elif epoch - best_epoch >= options.patience:
            break
    network.load_state_dict(best_state)
    network.eval()
    return history, best_epoch


def _optimizer(network: HybridNetwork, options: TrainingOptions) -> torch.optim.Optimizer:
    collab_lr = options.learning_rate * options.embedding_lr_scale
    return torch.optim.AdamW(
        [
            {"params": network.content.parameters(), "weight_decay": options.weight_decay},
            # The collaborative part is regularised by embedding_l2 and the bias ridges instead.
            {"params": network.collaborative_parameters(), "weight_decay": 0.0, "lr": collab_lr},
        ],
        lr=options.learning_rate,
    )


def _train_one_epoch(
    network: HybridNetwork,
    optimizer: torch.optim.Optimizer,
    data: dict[str, torch.Tensor],
    options: TrainingOptions,
    generator: torch.Generator,
) -> float:
    """One pass in a seeded random order; returns the mean blended MSE."""
    network.train()
    n = data["targets"].shape[0]
    order = torch.randperm(n, generator=generator)
    total = 0.0
    for start in range(0, n, options.batch_size):
        rows = order[start : start + options.batch_size]
        client_idx, cleaner_idx = data["client_idx"][rows], data["cleaner_idx"][rows]
        target = data["targets"][rows]
        logits = network(client_idx, cleaner_idx, data["known"][rows], data["features"][rows])
        mse = nn.functional.mse_loss(torch.sigmoid(logits), target)
        loss = (
            mse
            + options.embedding_l2 * _embedding_penalty(network, client_idx, cleaner_idx)
            + _bias_penalty(network, n, options)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += mse.item() * rows.shape[0]
    return total / n


def _embedding_penalty(network: HybridNetwork, client_idx: torch.Tensor, cleaner_idx: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of the embedding rows this batch used (frequent ids get more pull)."""
    client_rows, cleaner_rows = network.client_embedding(client_idx), network.cleaner_embedding(cleaner_idx)
    squares = client_rows.pow(2).sum(dim=1) + cleaner_rows.pow(2).sum(dim=1)
    # The global bias is penalised too, so the overall level stays in the content
    # part, which is all that unseen ids get.
    return squares.mean() + network.global_bias.pow(2)


def _bias_penalty(network: HybridNetwork, n_rows: int, options: TrainingOptions) -> torch.Tensor:
    """Ridge on the per-id biases: a fixed prior per id, however often it appears.

    Unlike the per-row penalty of the embeddings, this shrinks an id with few ratings
    much more than one with many, the way a Bayesian mean does; a cleaner with twenty
    ratings keeps most of their own level.
    """
    client = options.client_bias_l2 * network.client_bias.weight.pow(2).sum()
    cleaner = options.cleaner_bias_l2 * network.cleaner_bias.weight.pow(2).sum()
    return (client + cleaner) / n_rows


def _mse(network: HybridNetwork, data: dict[str, torch.Tensor]) -> float:
    network.eval()
    with torch.inference_mode():
        logits = network(data["client_idx"], data["cleaner_idx"], data["known"], data["features"])
        return float(nn.functional.mse_loss(torch.sigmoid(logits), data["targets"]))


def _snapshot(network: HybridNetwork) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}


def _to_tensors(model: HybridModel, data: InteractionArrays) -> dict[str, torch.Tensor]:
    """Everything one epoch reads, as tensors: embedding rows, ``known``, features, targets."""
    client_idx, cleaner_idx, known = lookup_ids(model, data)
    return {
        "client_idx": torch.from_numpy(client_idx),
        "cleaner_idx": torch.from_numpy(cleaner_idx),
        "known": torch.from_numpy(known),
        "features": torch.from_numpy(normalise_features(model, concat_features(data))),
        "targets": torch.from_numpy(np.asarray(data.targets, dtype=np.float32)),
    }
