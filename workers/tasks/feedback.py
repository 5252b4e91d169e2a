"""Feedback tasks: apply a stored batch, and sweep up batches whose message was lost.

Both are safe to run twice: `feedback_apply` claims each event with a conditional UPDATE
(see app/recommendations/feedback.py), so a redelivery or a sweep's duplicate does nothing.
"""

from __future__ import annotations

from celery import shared_task

from workers import names

# A batch is at most 1000 events of a few queries each: seconds, not minutes. On a soft
# limit the event in progress rolls back and the sweeper re-enqueues the rest.
_LIMITS = {"soft_time_limit": 120, "time_limit": 180, "acks_late": True, "ignore_result": True}


@shared_task(name=names.FEEDBACK_APPLY, **_LIMITS)
def feedback_apply(ids: list[int]) -> int:
    from django.conf import settings

    from workers.feedback import feedback_apply as apply

    # Test-only fault injection (config/settings/test.py); absent, hence 0, in production.
    pause = getattr(settings, "FEEDBACK_APPLY_DELAY_MS", 0) / 1000
    return apply(ids=ids, pause_seconds=pause)


@shared_task(name=names.FEEDBACK_SWEEP, **_LIMITS)
def feedback_sweep(older_than_seconds: float | None = None) -> int:
    """Beat sends it without arguments; tests pass 0 so they need not wait for events to age."""
    from datetime import timedelta

    from workers.feedback import feedback_sweep as sweep

    if older_than_seconds is None:
        return sweep()
    return sweep(older_than=timedelta(seconds=older_than_seconds))
