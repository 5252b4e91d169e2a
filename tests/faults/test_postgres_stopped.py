"""(c) PostgreSQL stopped with `-m immediate` under mixed traffic, then started again on the same port.

While it is down the web answers 503 (a request it cannot record is not accepted); tasks that
find it unreachable retry with backoff instead of being acknowledged; once it is back every
accepted request and event completes and no answer is a 503.
"""

from __future__ import annotations

import time

import pytest

from tests.support.stack import Stack, Traffic

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def test_every_accepted_request_and_event_survives_a_crashed_postgresql(stack: Stack) -> None:
    traffic = Traffic(stack, threads=4, feedback_share=0.3).start()
    time.sleep(6)
    down = time.monotonic()  # before: the outage starts inside the call
    stack.pg.stop("immediate")
    time.sleep(4)
    stack.pg.start()
    up = time.monotonic()
    time.sleep(10)
    traffic.stop()

    assert stack.worker.poll() is None, stack.worker_log()
    outcome = stack.check(traffic, outages=[(down, up)])

    after = [a for a in traffic.answers if a.started >= up]
    assert after and all(a.status in (200, 202) for a in after), [(a.kind, a.status) for a in after if a.status >= 500]
    assert outcome["requests"] > 0 and outcome["events"] > 0, outcome["answers"]
