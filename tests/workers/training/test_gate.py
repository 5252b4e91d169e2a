"""The champion–challenger gate (`promotion_decide`), on hand-written evaluations.

The tolerances here are binary fractions (1/8, 1/16), so that "worse by exactly the
tolerance" is exact in floating point and the edge tests test the rule, not the rounding.
"""

from __future__ import annotations

import math

import pytest

from workers.training.gate import promotion_decide

TOLERANCE = {"pairwise_accuracy": 0.125, "ndcg_at_5": 0.125, "r2": 0.0625}


def evaluation(
    pairwise: float | None = 0.75,
    ndcg: float | None = 0.75,
    r2: float | None = 0.5,
    *,
    rule_pairwise: float | None = 0.625,
    scorer: str = "neural",
) -> dict:
    """An evaluation in model_train's format: ranking metrics per scorer, and the model's R²."""
    return {
        "r2": r2,
        "ranking": {
            scorer: {"pairwise_accuracy": pairwise, "ndcg_at_5": ndcg, "groups": 40},
            "rule_based": {"pairwise_accuracy": rule_pairwise, "ndcg_at_5": 0.5, "groups": 40},
        },
    }


def decide(candidate: dict, champion: dict | None = None, **kwargs) -> dict:
    kwargs.setdefault("tolerance", TOLERANCE)
    kwargs.setdefault("scorer", "neural")
    return promotion_decide(
        candidate=candidate, champion=champion, champion_version=None if champion is None else "1.0", **kwargs
    )


# Without a champion: against the rule-based scorer ----------------------------------------------


def test_it_promotes_a_first_model_that_ranks_better_than_the_rules() -> None:
    d = decide(evaluation(pairwise=0.75, rule_pairwise=0.625))

    assert d["verdict"] == "promote"
    assert d["reason"] == "no champion: pairwise accuracy 0.7500 beats the rule-based scorer's 0.6250"
    assert d["rule_based"] == {"pairwise_accuracy": 0.625}
    assert d["candidate"] == {"pairwise_accuracy": 0.75, "ndcg_at_5": 0.75, "r2": 0.5}
    assert (d["champion_version"], d["scorer"], d["tolerance"]) == (None, "neural", TOLERANCE)


@pytest.mark.parametrize("rule", [0.75, 0.8])
def test_it_rejects_a_first_model_that_only_ties_or_trails_the_rules(rule: float) -> None:
    d = decide(evaluation(pairwise=0.75, rule_pairwise=rule))

    assert d["verdict"] == "reject"
    assert d["reason"] == f"no champion: pairwise accuracy 0.7500 does not beat the rule-based scorer's {rule:.4f}"


@pytest.mark.parametrize(("mine", "rule"), [(None, 0.625), (0.75, None), (math.nan, 0.625), (0.75, math.inf)])
def test_it_rejects_a_first_model_when_there_is_no_ranking_to_compare(mine, rule) -> None:
    d = decide(evaluation(pairwise=mine, rule_pairwise=rule))

    assert d["verdict"] == "reject"
    assert "no ranking to compare with the rule-based scorer" in d["reason"]


# With a champion: no metric worse by more than its tolerance -----------------------------------


def test_it_promotes_a_candidate_no_worse_than_the_champion() -> None:
    d = decide(evaluation(pairwise=0.8125, ndcg=0.75, r2=0.5), evaluation(pairwise=0.75, ndcg=0.8125, r2=0.5))

    assert d["verdict"] == "promote"
    assert d["reason"] == (
        "no worse than 1.0 beyond the tolerance: pairwise_accuracy 0.8125 vs 0.7500, "
        "ndcg_at_5 0.7500 vs 0.8125, r2 0.5000 vs 0.5000"
    )
    assert d["comparisons"] == [
        {
            "metric": "pairwise_accuracy",
            "candidate": 0.8125,
            "champion": 0.75,
            "difference": 0.0625,
            "tolerance": 0.125,
            "ok": True,
        },
        {
            "metric": "ndcg_at_5",
            "candidate": 0.75,
            "champion": 0.8125,
            "difference": -0.0625,
            "tolerance": 0.125,
            "ok": True,
        },
        {"metric": "r2", "candidate": 0.5, "champion": 0.5, "difference": 0.0, "tolerance": 0.0625, "ok": True},
    ]
    assert d["champion"] == {"pairwise_accuracy": 0.75, "ndcg_at_5": 0.8125, "r2": 0.5}
    assert d["champion_version"] == "1.0"


def test_it_promotes_a_candidate_worse_by_exactly_the_tolerance() -> None:
    d = decide(evaluation(pairwise=0.625, ndcg=0.625, r2=0.4375), evaluation(pairwise=0.75, ndcg=0.75, r2=0.5))

    assert d["verdict"] == "promote", d["reason"]
    assert [c["ok"] for c in d["comparisons"]] == [True, True, True]


def test_it_rejects_a_candidate_worse_by_more_than_the_tolerance_naming_the_metric() -> None:
    d = decide(evaluation(pairwise=0.75, ndcg=0.5, r2=0.4375 - 1e-9), evaluation(pairwise=0.75, ndcg=0.75, r2=0.5))

    assert d["verdict"] == "reject"
    assert d["reason"] == (
        "worse than 1.0: ndcg_at_5 0.5000 vs the champion's 0.7500 (worse by 0.2500, tolerance 0.125); "
        "r2 0.4375 vs the champion's 0.5000 (worse by 0.0625, tolerance 0.0625)"
    )
    assert [(c["metric"], c["ok"]) for c in d["comparisons"]] == [
        ("pairwise_accuracy", True),
        ("ndcg_at_5", False),
        ("r2", False),
    ]


def test_it_skips_a_metric_either_side_lacks_and_decides_on_the_rest() -> None:
    better_ranking = evaluation(pairwise=0.8125, ndcg=0.8125, r2=None)
    champion = evaluation(pairwise=0.75, ndcg=0.75, r2=0.5)

    d = decide(better_ranking, champion)

    assert d["verdict"] == "promote"
    skipped = d["comparisons"][2]
    assert skipped == {"metric": "r2", "candidate": None, "champion": 0.5, "tolerance": 0.0625, "ok": None}
    assert "r2" not in d["reason"]
    # A missing metric never excuses a worse one.
    assert decide(evaluation(pairwise=0.5, ndcg=0.8125, r2=None), champion)["verdict"] == "reject"


def test_it_rejects_when_no_metric_can_be_compared() -> None:
    d = decide(evaluation(), {"r2": math.nan, "ranking": {}})

    assert d["verdict"] == "reject"
    assert d["reason"] == "no metric could be compared with the champion's"
    assert [c["ok"] for c in d["comparisons"]] == [None, None, None]


# Defaults from the settings ---------------------------------------------------------------------


def test_it_takes_the_tolerance_from_the_settings(settings) -> None:
    settings.RECOMMENDATION_PROMOTION_TOLERANCE = {"pairwise_accuracy": 0.25, "ndcg_at_5": 0.25, "r2": 0.25}
    candidate, champion = evaluation(pairwise=0.5, ndcg=0.5, r2=0.25), evaluation(pairwise=0.75, ndcg=0.75, r2=0.5)

    d = promotion_decide(candidate=candidate, champion=champion, champion_version="1.0", scorer="neural")

    assert d["verdict"] == "promote" and d["tolerance"] == settings.RECOMMENDATION_PROMOTION_TOLERANCE
    assert decide(candidate, champion)["verdict"] == "reject"  # with the tighter tolerance of these tests


@pytest.mark.parametrize(("mode", "scorer"), [("ensemble", "ensemble"), ("neural", "neural"), ("rule_based", "neural")])
def test_it_judges_the_scorer_the_service_serves_with(settings, mode: str, scorer: str) -> None:
    settings.RECOMMENDATION_MODE = mode
    candidate = evaluation(pairwise=0.875, scorer=scorer)

    d = promotion_decide(candidate=candidate, champion=None, tolerance=TOLERANCE)

    assert d["scorer"] == scorer
    assert d["candidate"]["pairwise_accuracy"] == 0.875
    assert d["verdict"] == "promote"
