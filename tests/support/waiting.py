"""Waiting for what another thread or process does, with a deadline and a message that says what."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30, what: str = "condition") -> T:
    """Call `predicate` until it returns something truthy, and return that.

    It is called once more after the deadline, so a slow machine fails only when the
    condition really never held.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not met within {timeout}s"
        time.sleep(0.05)
