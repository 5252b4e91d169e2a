"""The two-proportion z-test, against hand computations and an independent normal tail."""

import math

import pytest

from app.recommendations.experiments import two_proportion_z_test


def _normal_two_sided_tail(z: float, steps: int = 20_000) -> float:
    """2 * (1 - Φ(|z|)) by Simpson's rule on the density: independent of math.erfc."""
    a, b = 0.0, abs(z)
    h = (b - a) / steps
    density = [math.exp(-((a + i * h) ** 2) / 2) / math.sqrt(2 * math.pi) for i in range(steps + 1)]
    area = h / 3 * (density[0] + density[-1] + 4 * sum(density[1:-1:2]) + 2 * sum(density[2:-1:2]))
    return 2 * (0.5 - area)


def test_it_matches_the_textbook_case_200_of_1000_against_250_of_1000() -> None:
    t = two_proportion_z_test(successes_a=200, trials_a=1000, successes_b=250, trials_b=1000)

    # By hand: pooled p = 450/2000 = 0.225; se = sqrt(0.225 * 0.775 * (1/1000 + 1/1000)) = 0.0186748;
    # z = (0.25 - 0.20) / se = 2.6774; two-sided p = 0.00742.
    se = math.sqrt(0.225 * 0.775 * 0.002)
    assert se == pytest.approx(0.0186748, abs=1e-7)
    assert t.z == pytest.approx(0.05 / se, rel=1e-12)
    assert t.z == pytest.approx(2.68, abs=0.005)
    assert t.p_value == pytest.approx(0.0074, abs=0.00005)
    assert t.p_value == pytest.approx(_normal_two_sided_tail(t.z), abs=1e-9)
    assert (t.rate_a, t.rate_b) == (0.2, 0.25)
    assert t.absolute_lift == pytest.approx(0.05)
    # Wald interval, unpooled: se = sqrt(0.2*0.8/1000 + 0.25*0.75/1000) = 0.0186414; ± 1.96 se.
    assert t.absolute_lift_ci == pytest.approx((0.013464, 0.086536), abs=1e-6)
    assert t.relative_lift == pytest.approx(0.25)
    # Katz log interval of the ratio: se = sqrt(0.8/200 + 0.75/250) = 0.0836660; exp(ln 1.25 ± 1.96 se) - 1.
    assert t.relative_lift_ci == pytest.approx((0.060946, 0.472742), abs=1e-6)
    assert t.significant is True
    assert t.verdict == "B is better (p=0.0074)"


def test_it_says_a_is_better_when_b_is_significantly_worse() -> None:
    t = two_proportion_z_test(successes_a=250, trials_a=1000, successes_b=200, trials_b=1000)
    assert t.z == pytest.approx(-2.6774, abs=1e-4)
    assert t.verdict == "A is better (p=0.0074)"


def test_it_reports_no_significant_difference_with_the_p_value() -> None:
    t = two_proportion_z_test(successes_a=200, trials_a=1000, successes_b=210, trials_b=1000)
    assert t.significant is False
    assert t.p_value == pytest.approx(_normal_two_sided_tail(t.z), abs=1e-9)
    assert t.verdict == f"no significant difference yet (p={t.p_value:.2g})"
    assert t.absolute_lift_ci[0] < 0 < t.absolute_lift_ci[1]


def test_it_refuses_a_verdict_below_the_minimum_sample_but_still_reports_the_numbers() -> None:
    t = two_proportion_z_test(successes_a=2, trials_a=10, successes_b=9, trials_b=10, min_trials=100)
    assert t.verdict == "not enough data (need at least 100 per variant)"
    assert t.significant is False
    assert t.p_value is not None and t.p_value < 0.05  # would be "significant" on 10 trials: exactly the trap


def test_it_handles_empty_and_degenerate_samples() -> None:
    empty = two_proportion_z_test(successes_a=0, trials_a=0, successes_b=5, trials_b=10, min_trials=1)
    assert (empty.rate_a, empty.z, empty.p_value) == (None, None, None)
    assert empty.verdict == "not enough data (need at least 1 per variant)"

    zeros = two_proportion_z_test(successes_a=0, trials_a=500, successes_b=0, trials_b=500)
    assert (zeros.z, zeros.p_value, zeros.relative_lift) == (0.0, 1.0, None)
    assert zeros.verdict == "no significant difference yet (p=1)"

    from_zero = two_proportion_z_test(successes_a=0, trials_a=500, successes_b=20, trials_b=500)
    assert from_zero.relative_lift is None and from_zero.relative_lift_ci is None
    assert from_zero.verdict == "B is better (p<0.001)"


@pytest.mark.parametrize(
    "args",
    [
        {"successes_a": 11, "trials_a": 10, "successes_b": 0, "trials_b": 10},
        {"successes_a": -1, "trials_a": 10, "successes_b": 0, "trials_b": 10},
    ],
)
def test_it_rejects_impossible_counts(args: dict) -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        two_proportion_z_test(**args)
