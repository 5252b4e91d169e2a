"""(b) Redis SIGKILLed under mixed traffic (recommendation requests and feedback), with and without AOF.

Without AOF the restarted Redis is empty: every queued message and every unacknowledged one is
gone, and the request table and the feedback table bring them back (the sweeps). With AOF at
most the last second is lost. Either way the worker, which held unacknowledged messages when
Redis died, must survive and reconnect (finding 3 of issue 12: it exited in kombu's
`restore_unacked` with the custom transport that workers/broker.py was; kombu's own is used now).
"""

from __future__ import annotations

import time

import pytest

from tests.support.stack import Stack, Traffic

pytestmark = [pytest.mark.fault, pytest.mark.slow]

# Each kill lands wherever the worker is; three make the crash of finding 3 likely to show.
KILLS = 3


def _kill_redis_under_traffic(stack: Stack) -> None:
    traffic = Traffic(stack, threads=4, feedback_share=0.4).start()
    outages = []
    for _ in range(KILLS):
        time.sleep(5)
        down = time.monotonic()  # before: the outage starts inside the call
        stack.redis.kill()
        time.sleep(2)
        stack.redis.start()
        outages.append((down, time.monotonic()))
    time.sleep(8)
    traffic.stop()
    up = outages[-1][1]

    assert stack.worker.poll() is None, f"the worker exited when Redis restarted:\n{stack.worker_log()}"
    outcome = stack.check(traffic, outages=outages)

    after = [a for a in traffic.answers if a.started >= up]
    assert after and all(a.status in (200, 202) for a in after), [(a.kind, a.status) for a in after if a.status >= 500]
    assert outcome["requests"] > 0 and outcome["events"] > 0, outcome["answers"]


@pytest.mark.stack(aof=False)
def test_without_aof_every_accepted_request_and_event_survives_a_killed_redis(stack: Stack) -> None:
    _kill_redis_under_traffic(stack)


@pytest.mark.stack(aof=True)
def test_with_aof_every_accepted_request_and_event_survives_a_killed_redis(stack: Stack) -> None:
    _kill_redis_under_traffic(stack)
