"""The torch module: id embeddings with biases on top of a content MLP, blended by a learned alpha."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


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


class HybridNetwork(nn.Module):
    """The trainable part. Takes embedding indices and normalised features.

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
    """

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

    def collaborative_parameters(self) -> list[nn.Parameter]:
        """Everything but the MLP: the per-id rows, the global bias and the blend weight."""
        return [
            self.client_embedding.weight,
            self.cleaner_embedding.weight,
            self.client_bias.weight,
            self.cleaner_bias.weight,
            self.global_bias,
            self.alpha_logit,
        ]

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


def _mlp(n_inputs: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)
