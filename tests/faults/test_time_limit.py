"""(e) A task past its hard time limit: its request ends failed with a reason, not `running` for ever.

The worker runs with a 2 s hard limit, and a test-only hook (RECOMMENDATION_STUCK_JOB_IDS,
config/settings/test.py) makes computing one job hang, deaf to the soft limit. The hard limit
kills the child; the sweeper claims the request again past the limit and its margin, up to the
attempt cap, and then fails it. The other requests succeed meanwhile.
"""

from __future__ import annotations

import pytest

from tests.support.stack import Stack, Traffic
from workers.recommend.runner import MAX_ATTEMPTS
from workers.recommend.sweeper import STUCK_ERROR

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def _stuck_job(seed: dict) -> int:
    return seed["callers"][0]["jobs"][0]


@pytest.mark.stack(
    env=lambda seed: {
        "RECOMMENDATION_TASK_TIME_LIMIT": "2",
        "RECOMMENDATION_TASK_SOFT_TIME_LIMIT": "1",
        "RECOMMENDATION_SWEEP_RUNNING_AFTER": "3",
        "RECOMMENDATION_STUCK_JOB_IDS": str(_stuck_job(seed)),
    }
)
def test_a_request_past_the_hard_limit_fails_out_of_attempts(stack: Stack) -> None:
    stuck = _stuck_job(stack.cluster.seed)
    traffic = Traffic(stack)
    first = traffic.request(traffic.callers[0], stuck)
    assert first.status == 202, first.body
    for caller in traffic.callers[1:5]:
        assert traffic.request(caller).status == 202

    outcome = stack.check(traffic, bound=90)

    assert outcome["failed"] == {first.body["id"]: STUCK_ERROR}
    attempts = stack.query(
        "SELECT attempts FROM recommendations_recommendationrequest WHERE id = %s", (first.body["id"],)
    )
    assert attempts == [(MAX_ATTEMPTS,)]
