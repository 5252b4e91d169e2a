"""Metrics against cases small enough to compute by hand."""

from __future__ import annotations

import math

import pytest

from workers.ml.metrics import ndcg_at_k, pairwise_accuracy, ranking_metrics, rating_metrics


def test_it_computes_rating_errors_and_r2():
    result = rating_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    # Errors 0, 0, -2; targets' mean 8/3, so SS_tot = (25 + 4 + 49) / 9 = 78 / 9.
    assert result["mse"] == pytest.approx(4 / 3)
    assert result["mae"] == pytest.approx(2 / 3)
    assert result["r2"] == pytest.approx(1 - 4 / (78 / 9))


def test_it_gives_the_mean_predictor_an_r2_of_zero():
    assert rating_metrics([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])["r2"] == pytest.approx(0.0)


def test_it_keeps_r2_finite_for_constant_targets():
    assert rating_metrics([0.5, 0.5], [0.5, 0.5])["r2"] == 1.0
    assert rating_metrics([0.4, 0.6], [0.5, 0.5])["r2"] == 0.0


def test_it_rejects_arrays_of_different_length():
    with pytest.raises(ValueError, match="differ in length"):
        rating_metrics([1.0, 2.0], [1.0])


def test_it_scores_a_perfect_order_one():
    assert ndcg_at_k([0.9, 0.5, 0.1], [1.0, 0.5, 0.0], [7, 7, 7]) == pytest.approx(1.0)


def test_it_scores_a_reversed_order_by_hand():
    relevance = [3.0, 2.0, 1.0, 0.0]
    scores = [0.0, 1.0, 2.0, 3.0]  # exactly backwards
    dcg = 0 / math.log2(2) + 1 / math.log2(3) + 2 / math.log2(4) + 3 / math.log2(5)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4) + 0 / math.log2(5)
    assert ndcg_at_k(scores, relevance, [1, 1, 1, 1]) == pytest.approx(dcg / idcg)


def test_it_ignores_rows_below_the_cutoff():
    # The only relevant row is ranked sixth: outside the top 5, inside the top 6.
    scores = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    relevance = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    groups = [1] * 6
    assert ndcg_at_k(scores, relevance, groups, k=5) == 0.0
    assert ndcg_at_k(scores, relevance, groups, k=6) == pytest.approx(1 / math.log2(7))


def test_it_breaks_score_ties_against_the_model():
    # A constant scorer must not win by the luck of the input order.
    assert ndcg_at_k([0.5, 0.5], [1.0, 0.0], [1, 1]) == pytest.approx(1 / math.log2(3))


def test_it_averages_only_groups_with_two_rows_and_a_relevant_one():
    scores = [0.9, 0.1, 0.1, 0.9, 0.3, 0.2, 0.8]
    relevance = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    # Group "a" perfect (1.0); "b" reversed (1/log2 3); "c" has nothing relevant;
    # "d" has one row. Groups need not be contiguous.
    groups = ["a", "a", "b", "b", "c", "c", "d"]
    expected = (1.0 + 1 / math.log2(3)) / 2
    assert ndcg_at_k(scores, relevance, groups) == pytest.approx(expected)
    assert ranking_metrics(scores, relevance, groups)["groups"] == 2


def test_it_returns_nan_when_no_group_qualifies():
    assert math.isnan(ndcg_at_k([0.1, 0.2], [0.0, 0.0], [1, 1]))


def test_it_counts_correctly_ordered_pairs_and_half_for_ties():
    scores = [0.9, 0.5, 0.5, 0.1]
    relevance = [2.0, 1.0, 0.0, 0.0]
    # Pairs of different relevance: (0,1) (0,2) (0,3) (1,2) (1,3); (1,2) is a
    # score tie worth one half, the rest are right: 4.5 / 5.
    assert pairwise_accuracy(scores, relevance, [1, 1, 1, 1]) == pytest.approx(0.9)


def test_it_pairs_rows_only_within_a_group():
    scores = [0.9, 0.5, 0.5, 0.1, 0.1, 0.9]
    relevance = [2.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    groups = [1, 1, 1, 1, 2, 2]  # group 2 is backwards: 0 of 1 pair right
    assert pairwise_accuracy(scores, relevance, groups) == pytest.approx(4.5 / 6)


def test_it_returns_nan_when_there_is_no_pair_to_order():
    assert math.isnan(pairwise_accuracy([0.1, 0.9], [1.0, 1.0], [1, 1]))
    assert math.isnan(pairwise_accuracy([0.1, 0.9], [1.0, 0.0], [1, 2]))


def test_it_reports_ranking_metrics_together():
    result = ranking_metrics([0.9, 0.1, 0.8, 0.2], [1.0, 0.0, 1.0, 0.0], [1, 1, 2, 2])
    assert result == {"ndcg_at_5": pytest.approx(1.0), "pairwise_accuracy": 1.0, "groups": 2}


def _pairwise_by_hand(scores, relevance, groups) -> float:
    """Every within-group pair of different relevance, one by one."""
    credit, pairs = 0.0, 0
    for i in range(len(scores)):
        for j in range(len(scores)):
            if groups[i] == groups[j] and relevance[i] > relevance[j]:
                pairs += 1
                credit += 1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j] else 0.0
    return credit / pairs if pairs else math.nan


@pytest.mark.parametrize("seed", range(5))
def test_it_counts_pairs_as_walking_every_pair_does(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 120
    scores = rng.integers(0, 15, n).astype(float)  # many ties
    relevance = rng.choice([0.0, 0.0, 0.3, 1.0], n)
    groups = rng.integers(0, 7, n)
    assert pairwise_accuracy(scores, relevance, groups) == pytest.approx(_pairwise_by_hand(scores, relevance, groups))


def test_it_counts_pairs_of_a_large_pool_without_materialising_them():
    import numpy as np

    rng = np.random.default_rng(0)
    n = 200_000  # one group: 4e10 ordered pairs if materialised
    relevance = (rng.random(n) < 0.001).astype(float)
    scores = relevance + rng.normal(0, 1, n)
    assert 0.7 < pairwise_accuracy(scores, relevance, np.zeros(n)) < 0.8  # P(N(1,2) > 0) = 0.76


def test_a_nan_score_orders_no_pair_as_before():
    # A diverged model's NaN scores: no pair it is part of is credited (the pairwise count gave
    # none; ranked above every number, a NaN row would be credited with all its pairs).
    import numpy as np

    rng = np.random.default_rng(3)
    n = 60
    scores = rng.integers(0, 6, n).astype(float)
    scores[rng.random(n) < 0.3] = np.nan
    scores[:2] = np.inf
    relevance = rng.choice([0.0, 0.5, 1.0], n)
    groups = rng.integers(0, 3, n)
    assert pairwise_accuracy(scores, relevance, groups) == pytest.approx(_pairwise_by_hand(scores, relevance, groups))
    assert pairwise_accuracy([math.nan, 0.5], [1.0, 0.0], [1, 1]) == 0.0
