"""Daily upkeep run by beat."""

from __future__ import annotations

from celery import shared_task

from workers import names


@shared_task(name=names.REFRESH_CLEANER_SCORES, soft_time_limit=600, time_limit=900)
def refresh_cleaner_scores() -> int:
    """Recompute every `CleanerScore`; idempotent, so a second run changes nothing."""
    from app.recommendations.cleaner_scores import cleaner_scores_refresh

    return cleaner_scores_refresh()
