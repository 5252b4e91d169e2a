"""Test settings: real databases and Redis, fast password hashing."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Fault injection: `feedback.apply` holds each event's transaction open this long, so a test
# can SIGKILL a worker in the middle of a batch. Set through the worker's environment.
FEEDBACK_APPLY_DELAY_MS = env.int("FEEDBACK_APPLY_DELAY_MS", default=0)  # noqa: F405
# Fault injection: a recommendation request for one of these job ids computes for ever, deaf
# to the soft time limit (as a loop in native code would be), so the hard limit must kill it.
RECOMMENDATION_STUCK_JOB_IDS = env.list("RECOMMENDATION_STUCK_JOB_IDS", cast=int, default=[])  # noqa: F405

# The suite makes thousands of requests from one address in a minute; tests/test_throttling.py
# sets its own small rates.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "100000/min", "anon": "100000/min"}}  # noqa: F405
# Likewise for failed logins (tests/test_login_guard.py sets its own small limits).
LOGIN_FAILURES_PER_ACCOUNT = LOGIN_FAILURES_PER_ADDRESS = 100000
