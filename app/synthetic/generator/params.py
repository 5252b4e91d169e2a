"""The parameters of the synthetic marketplace: its city, its people, its jobs, how they bid and rate.

Every number that shapes the generated rows lives here, with its unit or the reason for its value.
Changing one changes what a seed generates.
"""

from __future__ import annotations

from datetime import UTC, datetime

# The default is fixed (not today) so that a seed always gives the same rows. It lies a little
# in the future of the project's start so that the open jobs after it are still in the future
# for `make run`; pass --reference-date to move the whole timeline.
DEFAULT_REFERENCE_DATE = datetime(2026, 12, 1, tzinfo=UTC)
HISTORY_DAYS = 365  # completed and cancelled jobs lie in the year before the reference date
OPEN_HORIZON_DAYS = 30  # open jobs lie in the 30 days after it

DEMO_PASSWORD = "demo"
OPERATOR_USERNAME = "operator"

# The city: a square of about 40 x 40 km around lower Manhattan.
CITY_LAT, CITY_LNG = 40.72, -74.0
CITY_HALF_SIDE_KM = 20.0

# Cleaners.
RADIUS_KM_RANGE = (8.0, 25.0)
HOURLY_RATE_RANGE = (25.0, 60.0)
# Better and more experienced cleaners charge a little more, so price carries some signal:
# rate = 42 + 5 q + 0.5 min(years, 10) + N(0, 6), rounded to 50 cents and clipped to the range.
RATE_BASE, RATE_PER_QUALITY, RATE_PER_YEAR, RATE_NOISE_SD = 42.0, 5.0, 0.5, 6.0
YEARS_GAMMA_SHAPE, YEARS_GAMMA_SCALE = 1.6, 4.0  # mean about 6 years: many juniors
MAX_YEARS = 20
VERIFIED_SHARE = 0.6
EXTRA_SERVICES_RANGE = (2, 4)  # offered besides "standard", which everyone offers
WEEKDAYS_MASK = 0b0011111
DROP_A_WEEKDAY_SHARE = 0.15
SATURDAY_SHARE = 0.3
SUNDAY_SHARE = 0.12
LONG_DAY_SHARE = 0.25  # work 7-20 instead of 8-18

# Clients and properties.
EXTRA_PROPERTIES_MEAN = 0.7  # 1 + Poisson(0.7): about 1.7 properties per client
CLIENT_ACTIVITY_LOG_SD = 0.8  # some clients book much more often than others
PROPERTY_TYPE_WEIGHTS = (0.45, 0.28, 0.20, 0.07)
# Median size (sqft) and log-sd per property type.
PROPERTY_SIZES = {"apartment": (850, 0.35), "house": (2300, 0.35), "condo": (1100, 0.3), "office": (3000, 0.5)}
SQFT_PER_BEDROOM = 550
PETS_SHARE = 0.3

# Jobs. Offices mostly buy office cleaning; homes never do.
HOME_SERVICE_WEIGHTS = {
    "standard": 0.50,
    "deep": 0.20,
    "move_out": 0.10,
    "post_construction": 0.04,
    "carpet": 0.09,
    "window": 0.07,
}
OFFICE_SERVICE_WEIGHTS = {"office": 0.60, "standard": 0.10, "window": 0.15, "carpet": 0.15}
# Hours of work per 1000 sqft on top of one fixed hour; the total is clipped to 2-8 h.
HOURS_PER_KSQFT = {
    "standard": 1.2,
    "deep": 2.0,
    "move_out": 2.2,
    "post_construction": 2.6,
    "office": 1.0,
    "carpet": 1.0,
    "window": 0.8,
}
DURATION_RANGE = (2.0, 8.0)
DURATION_LOG_SD = 0.15
TYPICAL_RATE_RANGE = (30.0, 45.0)  # what a client expects to pay per hour, for the budget
BUDGET_LOG_SD = 0.2
OPEN_SHARE = 0.05
WEEKEND_SHARE = 0.12
IN_HOURS_SHARE = 0.85  # jobs inside 8-18; the rest anywhere inside 7-20

# Bidding: k = 2 + Poisson(2.5) bidders among the cleaners in range who offer the service.
BID_RANGE_FACTOR = 1.3  # cleaners bid up to 1.3 times their service radius
MIN_BIDS, EXTRA_BIDS_MEAN = 2, 2.5
SPECIALTY_BID_FACTOR = 1.5
UNAVAILABLE_BID_FACTOR = 0.3  # a cleaner rarely bids outside their working days and hours
BID_LOG_SD = 0.12

# Expected rating (see `simulation.expected_ratings`); the weights are per unit of each term.
RATING_BASE = 6.2
RATING_QUALITY = 1.3
RATING_SPECIALTY = 0.9
RATING_DISTANCE = -1.1
RATING_EXPERIENCE = 0.35  # reached at EXPERIENCE_CAP_YEARS, linear before
EXPERIENCE_CAP_YEARS = 10
RATING_LARGE_JUNIOR = -0.6
LARGE_SQFT, JUNIOR_YEARS = 2500, 3
RATING_TASTE = 0.25
RATING_VERIFIED = 0.3
# With var(e) about 2 among hired pairs, this noise (plus rounding) puts the ceiling R² near 0.7.
RATING_NOISE_SD = 0.9
PICKINESS_SD = 0.2
PRICE_SENSITIVITY_RANGE = (0.3, 1.5)
TASTE_DIMS = 2

# Hiring: utility = (e + N(0, 0.6)) - s * 3 * (bid / budget - 1) + Gumbel(0, 0.5).
HIRE_RATING_NOISE_SD = 0.6
HIRE_PRICE_WEIGHT = 3.0
HIRE_GUMBEL_SCALE = 0.5
ON_TIME_LOGIT = 1.5  # P(on time) = sigmoid(1.5 + q)
CLIENT_CANCEL_SHARE = 0.025  # of past jobs, before anyone is hired
# P(the hired cleaner cancels) = sigmoid(-3.3 - 0.8 q): about 2.5 % of hires, more for weak cleaners.
CLEANER_CANCEL_LOGIT, CLEANER_CANCEL_QUALITY = -3.3, -0.8
BAD_RATING = 3  # a client may block a cleaner after a rating this low...
BLOCK_SHARE = 0.5  # ...half of them do, when that cleaner never bid for them again

BID_MESSAGES = (
    "",
    "Happy to help, I have done many of these.",
    "Available that day.",
    "I bring my own supplies.",
    "Eco-friendly products on request.",
    "Can start early if needed.",
)
REVIEW_COMMENTS = {
    "bad": ("Disappointing, several rooms were skipped.", "Not what we agreed on.", "Would not book again."),
    "fair": ("Decent job overall.", "Fine, a few spots missed.", "OK for the price."),
    "good": ("Spotless, thank you!", "Excellent and friendly.", "Great work, booking again."),
}
