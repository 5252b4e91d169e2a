"""Evaluation metrics for the recommendation model, in plain numpy.

This module must not import torch: the web side imports it to describe a model's
quality without paying torch's start-up cost.

Two families:

* ``rating_metrics`` judges predicted ratings against observed ones (any scale).
* ``ndcg_at_k``, ``pairwise_accuracy`` and ``ranking_metrics`` judge how candidates are
  *ordered* within a group (usually: the cleaners that bid on one job). ``groups`` holds
  one group key per row; rows of a group need not be contiguous.

Relevance is non-negative and graded (for example a rating rescaled to [0, 1]);
a row is "relevant" when its relevance is above zero.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def rating_metrics(pred: ArrayLike, target: ArrayLike) -> dict[str, float]:
    """Return ``{"mse", "mae", "r2"}`` of ``pred`` against ``target``.

    R² is 1 - SS_res / SS_tot, so predicting the target mean scores 0. When the
    targets are constant R² is undefined; like scikit-learn we then report 1.0 for a
    perfect prediction and 0.0 otherwise, so the value stays finite in JSON.
    """
    pred_arr, target_arr = _as_float_vectors(pred, target)
    if pred_arr.size == 0:
        raise ValueError("rating_metrics needs at least one prediction.")
    errors = pred_arr - target_arr
    ss_res = float(np.sum(errors**2))
    ss_tot = float(np.sum((target_arr - target_arr.mean()) ** 2))
    if ss_tot > 0.0:
        r2 = 1.0 - ss_res / ss_tot
    else:
        r2 = 1.0 if ss_res == 0.0 else 0.0
    return {
        "mse": ss_res / pred_arr.size,
        "mae": float(np.mean(np.abs(errors))),
        "r2": r2,
    }


def ndcg_at_k(scores: ArrayLike, relevance: ArrayLike, groups: ArrayLike, k: int = 5) -> float:
    """Mean NDCG@k over groups with at least two rows and one relevant row.

    Gains are linear (the relevance itself) with the usual ``1 / log2(rank + 1)``
    discount. Tied scores are broken *against* the model (the less relevant row
    first), so a constant scorer cannot look good by the luck of the input order.
    Returns NaN when no group qualifies; ``ranking_metrics`` reports how many did.
    """
    per_group = ndcg_per_group(scores, relevance, groups, k)
    return float(per_group.mean()) if per_group.size else math.nan


def pairwise_accuracy(scores: ArrayLike, relevance: ArrayLike, groups: ArrayLike) -> float:
    """Fraction of within-group pairs of different relevance that are ordered correctly.

    A pair is correct when the more relevant row has the higher score; a tie in
    score counts one half. Returns NaN when there is no such pair.

    Pairs are counted, never materialised: for each relevance level, every row of that
    level is compared with the less relevant rows of its group by binary search, so the
    cost is about (levels x rows x log rows), fine for pools of thousands of candidates.
    """
    score_arr, rel_arr = _as_float_vectors(scores, relevance)
    group_idx = _group_index(groups, score_arr.size)
    # One sortable integer per row: its group, then its score's rank among all scores.
    score_rank = np.unique(score_arr, return_inverse=True)[1].reshape(-1).astype(np.int64)
    span = int(score_rank.max()) + 2 if score_rank.size else 1
    key = group_idx.astype(np.int64) * span + score_rank
    group_lo = group_idx.astype(np.int64) * span - 1  # below every key of the group
    # A NaN score orders no pair it is in (NaN compares false): such pairs count, never credited.
    ordered = ~np.isnan(score_arr)
    correct = 0.0
    pairs = 0
    for level in np.unique(rel_arr)[1:]:
        lower_all = np.sort(key[rel_arr < level])
        lower = np.sort(key[(rel_arr < level) & ordered])
        at_level = (rel_arr == level) & ordered
        upper, upper_lo = key[at_level], group_lo[at_level]
        below = np.searchsorted(lower, upper, side="left") - np.searchsorted(lower, upper_lo, side="right")
        tied = np.searchsorted(lower, upper, side="right") - np.searchsorted(lower, upper, side="left")
        every_lo = group_lo[rel_arr == level]
        in_group = np.searchsorted(lower_all, every_lo + span, side="right") - np.searchsorted(
            lower_all, every_lo, side="right"
        )
        correct += float(below.sum()) + 0.5 * float(tied.sum())
        pairs += int(in_group.sum())
    return correct / pairs if pairs else math.nan


def ranking_metrics(scores: ArrayLike, relevance: ArrayLike, groups: ArrayLike, k: int = 5) -> dict[str, float | int]:
    """Return ``{"ndcg_at_<k>", "pairwise_accuracy", "groups"}``.

    ``groups`` is the number of groups that entered the NDCG mean (at least two
    rows and one relevant row), so a reader can tell a strong score on three jobs
    from one on three thousand.
    """
    per_group = ndcg_per_group(scores, relevance, groups, k)
    return {
        f"ndcg_at_{k}": float(per_group.mean()) if per_group.size else math.nan,
        "pairwise_accuracy": pairwise_accuracy(scores, relevance, groups),
        "groups": int(per_group.size),
    }


def ndcg_per_group(scores: ArrayLike, relevance: ArrayLike, groups: ArrayLike, k: int = 5) -> np.ndarray:
    """NDCG@k of every qualifying group (at least two rows, one relevant), in the order of the sorted group keys.

    Two scorers of the same rows give paired values: their difference per group, and its
    standard error, tell a real change from noise.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    score_arr, rel_arr = _as_float_vectors(scores, relevance)
    if np.any(rel_arr < 0):
        raise ValueError("relevance must be non-negative for NDCG.")
    group_idx = _group_index(groups, score_arr.size)
    n_groups = int(group_idx.max()) + 1 if group_idx.size else 0

    # np.lexsort sorts by the last key first: group, then score descending, then
    # relevance ascending so that ties go against the model.
    model_order = np.lexsort((rel_arr, -score_arr, group_idx))
    ideal_order = np.lexsort((-rel_arr, group_idx))
    dcg = _discounted_gain(rel_arr[model_order], group_idx[model_order], n_groups, k)
    idcg = _discounted_gain(rel_arr[ideal_order], group_idx[ideal_order], n_groups, k)

    sizes = np.bincount(group_idx, minlength=n_groups)
    qualifying = np.flatnonzero((sizes >= 2) & (idcg > 0))
    return dcg[qualifying] / idcg[qualifying]


def _discounted_gain(sorted_rel: np.ndarray, sorted_groups: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    """Per-group DCG@k of rows already sorted by group, best first within a group."""
    starts = np.searchsorted(sorted_groups, np.arange(n_groups))
    rank = np.arange(sorted_groups.size) - starts[sorted_groups]
    in_top_k = rank < k
    gains = sorted_rel[in_top_k] / np.log2(rank[in_top_k] + 2.0)
    return np.bincount(sorted_groups[in_top_k], weights=gains, minlength=n_groups)


def _group_index(groups: ArrayLike, n: int) -> np.ndarray:
    """Map arbitrary group keys to dense indices 0..G-1."""
    group_arr = np.asarray(groups)
    if group_arr.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {group_arr.shape}.")
    return np.unique(group_arr, return_inverse=True)[1].reshape(-1)


def _as_float_vectors(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a_arr = np.asarray(a, dtype=np.float64).reshape(-1)
    b_arr = np.asarray(b, dtype=np.float64).reshape(-1)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"Arrays differ in length: {a_arr.size} and {b_arr.size}.")
    return a_arr, b_arr
