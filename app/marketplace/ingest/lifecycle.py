"""A job's life cycle: draft → open_for_bids → assigned → in_progress → completed, or cancelled.

A sync may miss a step (a job seen open, then completed), so a stored job may move forward
by any number of steps. Backwards is refused, except assigned → open_for_bids (the assignment
fell through and the job is open again). A cancelled or completed job stays as it is. Any
status is accepted for a job seen for the first time: history arrives in its final state.
"""

from __future__ import annotations

from app.marketplace.models import CleaningJob

S = CleaningJob.Status
FORWARD = (S.DRAFT, S.OPEN_FOR_BIDS, S.ASSIGNED, S.IN_PROGRESS, S.COMPLETED)
FINAL = {S.COMPLETED, S.CANCELLED}
# Statuses that need an assigned cleaner, and those that may not have one.
NEEDS_CLEANER = {S.ASSIGNED, S.IN_PROGRESS, S.COMPLETED}
NO_CLEANER = {S.DRAFT, S.OPEN_FOR_BIDS}


def job_transition_refusal(old: str, new: str) -> str | None:
    """Why a stored job may not go from `old` to `new`, or None when it may."""
    if old == new:
        return None
    if old in FINAL:
        return f"a {old} job cannot become {new}"
    if new == S.CANCELLED:
        return None
    if FORWARD.index(new) > FORWARD.index(old) or (old == S.ASSIGNED and new == S.OPEN_FOR_BIDS):
        return None
    return f"a job that is {old} cannot go back to {new}"
