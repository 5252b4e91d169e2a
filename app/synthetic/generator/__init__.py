"""A synthetic cleaning marketplace with a known hidden structure, for training and evaluation.

Every cleaner has a latent quality and a latent taste vector; every client has a pickiness, a
price sensitivity and a taste vector. None of these reach the marketplace tables. The expected
rating e of a (job, cleaner) pair mixes them with observable pair features (the formula is in
`simulation`), clipped to [1, 10]. A review's rating is round(e + N(0, 0.9)) clipped to 1..10,
and only `ExpectedRating` keeps e, so that evaluation can measure the best R² any model could
reach (about 0.65) while training sees nothing but what a real marketplace would record.

Jobs are simulated in time order: nearby cleaners who offer the service bid, the client hires
the bidder with the best noisy utility (expected rating against price), and the job ends
completed with a review, cancelled, or still open for bids when it lies after the reference
date. Everything is drawn from one seed and dated from a fixed reference date, so the same
arguments give the same rows.

The modules, in the order a run uses them: `params` (every number), `world` (the sampled
arrays), `sampling`, `simulation`, `persistence` (the rows), and `services`, which callers use.
"""

from app.synthetic.generator.params import DEFAULT_REFERENCE_DATE
from app.synthetic.generator.services import (
    GenerationSummary,
    training_data_clear,
    training_data_exists,
    training_data_generate,
)

__all__ = [
    "DEFAULT_REFERENCE_DATE",
    "GenerationSummary",
    "training_data_clear",
    "training_data_exists",
    "training_data_generate",
]
