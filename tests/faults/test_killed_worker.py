"""(a) Worker children SIGKILLed again and again, then the worker's main process, under 200 requests.

A child killed mid-task loses its message to the pool (rejected, redelivered); the main process
killed loses what it had fetched and not yet recorded as unacknowledged. The request table is the
truth: the sweeper re-enqueues what is still queued or running past its deadline, and every 202
ends succeeded or failed with a reason.
"""

from __future__ import annotations

import time

import pytest

from tests.support.stack import Stack, Traffic

pytestmark = [pytest.mark.fault, pytest.mark.slow]


@pytest.mark.stack(
    env={
        "RECOMMENDATION_TASK_TIME_LIMIT": "10",
        "RECOMMENDATION_TASK_SOFT_TIME_LIMIT": "8",
        "RECOMMENDATION_SWEEP_RUNNING_AFTER": "12",
    }
)
def test_every_accepted_request_ends_across_killed_children_and_a_killed_main_process(stack: Stack) -> None:
    # Paced (at least 10 s of traffic): kills land under traffic however fast the service answers.
    traffic = Traffic(stack, threads=4, feedback_share=0.2, pause=0.2).start(total=200)
    kills = 0
    while kills < 6 and any(t.is_alive() for t in traffic._pool):
        time.sleep(1.0)
        kills += stack.kill_worker_child()
    stack.kill_worker()  # main process and children, mid-traffic
    time.sleep(2)
    stack.start_worker()
    traffic.join()

    outcome = stack.check(traffic)

    assert kills >= 3
    assert outcome["requests"] > 100, outcome["answers"]
