"""The rule-based scorer: a fixed, explainable blend of components in [0, 1].

Each component answers one
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
