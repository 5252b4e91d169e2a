"""Invalidate cached recommendations when a job, a bid or a cleaner profile changes."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from app.marketplace.models import Bid, CleanerProfile, CleaningJob


def _bump(*names: str) -> None:
    from app.recommendations.cache import generation_bump

    # After commit too: a worker that recomputed in between must not have cached the old state.
    generation_bump(*names)
    transaction.on_commit(lambda: generation_bump(*names))


@receiver([post_save, post_delete], sender=CleaningJob)
def _job_changed(instance: CleaningJob, **kwargs) -> None:  # noqa: ANN003
    _bump(f"job:{instance.pk}", "open-jobs")


@receiver([post_save, post_delete], sender=Bid)
def _bid_changed(instance: Bid, **kwargs) -> None:  # noqa: ANN003
    _bump(f"job:{instance.job_id}", f"cleaner:{instance.cleaner_id}")


@receiver([post_save, post_delete], sender=CleanerProfile)
def _cleaner_changed(instance: CleanerProfile, **kwargs) -> None:  # noqa: ANN003
    _bump(f"cleaner:{instance.pk}")
