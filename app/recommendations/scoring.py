"""The rule-based scorer: a fixed, explainable blend of components in [0, 1].

numpy only, so both the web and the worker can import it. Each component answers one
question a client would ask ("is this cleaner good?", "is it close?", "can I afford it?");
the recommendation rows store them so that anyone can see why a cleaner ranks where it does.
"""

import numpy as np

# Weights sum to 1, so the score stays in [0, 1].
RULE_WEIGHTS: dict[str, float] = {
    "quality": 0.30,
    "reliability": 0.15,
    "distance": 0.15,
    "specialty": 0.15,
    "price_fit": 0.15,
    "availability": 0.05,
    "experience": 0.05,
}

# Smoothing of the rating history: a cleaner with no review sits at the prior, neither top nor
# bottom; each review moves them 1/(n + PRIOR_REVIEWS) of the way to their own mean.
PRIOR_REVIEWS = 5
PRIOR_RATING = 7.0  # on the 1-10 scale; `cleaner_scores_refresh` replaces it by the marketplace mean
PRIOR_JOBS = 5
PRIOR_RELIABILITY = 0.9


def smoothed_quality(rating_sum: np.ndarray, review_count: np.ndarray, prior_rating: float = PRIOR_RATING) -> np.ndarray:
    """Bayesian mean of the 1-10 ratings, mapped to [0, 1]."""
    mean = (rating_sum + PRIOR_REVIEWS * prior_rating) / (review_count + PRIOR_REVIEWS)
    return np.clip((mean - 1.0) / 9.0, 0.0, 1.0)


def smoothed_reliability(
    completed: np.ndarray, assigned: np.ndarray, cancelled_by_cleaner: np.ndarray, on_time: np.ndarray, reviews: np.ndarray
) -> np.ndarray:
    """Completion and punctuality, each smoothed towards a prior, then averaged."""
    completion = (completed + PRIOR_JOBS * PRIOR_RELIABILITY) / (assigned + PRIOR_JOBS)
    cancel_penalty = cancelled_by_cleaner / (assigned + PRIOR_JOBS)
    punctuality = (on_time + PRIOR_JOBS * PRIOR_RELIABILITY) / (reviews + PRIOR_JOBS)
    return np.clip(0.5 * completion + 0.5 * punctuality - cancel_penalty, 0.0, 1.0)


def rule_components(pair: dict[str, np.ndarray], cleaner: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each component in [0, 1]; higher is better."""
    ratio = pair["price_ratio"]
    # Within budget is a perfect fit; every 10% over budget costs 0.2.
    price_fit = np.clip(1.0 - 2.0 * np.maximum(ratio - 1.0, 0.0), 0.0, 1.0)
    specialty = np.where(pair["specialty_match"] > 0, 1.0, np.where(pair["offers_service"] > 0, 0.5, 0.0))
    return {
        "quality": np.asarray(cleaner["quality"], dtype=np.float64),
        "reliability": np.asarray(cleaner["reliability"], dtype=np.float64),
        "distance": np.clip(1.0 - pair["distance_over_radius"], 0.0, 1.0),
        "specialty": specialty,
        "price_fit": price_fit,
        "availability": pair["available"].astype(np.float64),
        "experience": np.clip(cleaner["years_experience"] / 10.0, 0.0, 1.0),
    }


def rule_score(components: dict[str, np.ndarray]) -> np.ndarray:
    return sum(RULE_WEIGHTS[name] * components[name] for name in RULE_WEIGHTS)
