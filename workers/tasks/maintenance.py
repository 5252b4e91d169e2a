"""Upkeep run by beat: the daily score refresh, and the sweep of lost requests every minute."""

from __future__ import annotations

from celery import shared_task

from workers import names


@shared_task(name=names.REFRESH_CLEANER_SCORES, soft_time_limit=600, time_limit=900)
def refresh_cleaner_scores() -> dict[str, int]:
    """Recompute every `CleanerScore` (the reconciliation of the updates at once) and prune the
    cleaner change log; idempotent, so a second run changes nothing. Returns what it corrected."""
    from dataclasses import asdict

    from app.recommendations.cleaner_changes import cleaner_changes_prune
    from app.recommendations.cleaner_scores import cleaner_scores_reconcile

    report = asdict(cleaner_scores_reconcile())
    report["change_log_pruned"] = cleaner_changes_prune()
    return report


@shared_task(name=names.REQUESTS_SWEEP, soft_time_limit=50, time_limit=60, ignore_result=True)
def requests_sweep() -> dict[str, int]:
    """Re-enqueue accepted requests whose message was lost; fail those that cannot run (sweeper.py)."""
    from workers.recommend.sweeper import requests_sweep as sweep

    return sweep()
