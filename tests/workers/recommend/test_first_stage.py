"""The first-stage cut: exactly the top K by rule score, ties to the lower id, nothing cut at or below K."""

from __future__ import annotations

import numpy as np
import pytest

from workers.recommend.first_stage import first_stage_keep


def _top_k_by_hand(first: np.ndarray, ids: np.ndarray, k: int) -> list[int]:
    ranked = sorted(range(len(first)), key=lambda i: (-first[i], ids[i]))
    return sorted(ranked[:k])


@pytest.mark.parametrize("seed", range(5))
def test_it_keeps_exactly_the_top_k_by_first_stage_score(seed) -> None:
    rng = np.random.default_rng(seed)
    n, k = 1000, 300
    first = np.round(rng.random(n), 2)  # many ties, some at the boundary
    ids = rng.permutation(n) + 10
    kept = first_stage_keep(first, ids, k)
    assert kept is not None and len(kept) == k
    assert kept.tolist() == _top_k_by_hand(first, ids, k)


def test_it_breaks_ties_at_the_boundary_by_the_lower_id() -> None:
    first = np.array([0.5, 0.9, 0.5, 0.5, 0.1])
    ids = np.array([30, 10, 20, 40, 50])
    assert first_stage_keep(first, ids, 2).tolist() == [1, 2]  # 0.9, then the 0.5 of id 20


def test_it_ranks_a_non_finite_first_stage_score_last() -> None:
    first = np.array([np.nan, 0.2, np.inf, 0.3])
    assert first_stage_keep(first, np.arange(4), 2).tolist() == [1, 3]


@pytest.mark.parametrize(("n", "k"), [(0, 300), (10, 300), (300, 300), (1000, 0)])
def test_it_cuts_nothing_when_candidates_are_at_most_k_or_k_is_zero(n, k) -> None:
    assert first_stage_keep(np.random.default_rng(0).random(n), np.arange(n), k) is None
