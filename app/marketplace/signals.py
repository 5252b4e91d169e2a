"""Invalidate cached recommendations, and cached ownership, when a job, a bid or a profile changes."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile


def _bump(*names: str) -> None:
    from app.recommendations.cache import generation_bump

    # After commit too: a worker that recomputed in between must not have cached the old state,
    # and an ownership check that read the old owner in between must not be trusted.
    generation_bump(*names)
    transaction.on_commit(lambda: generation_bump(*names))


@receiver([post_save, post_delete], sender=CleaningJob)
def _job_changed(instance: CleaningJob, **kwargs) -> None:  # noqa: ANN003
    _bump(f"job:{instance.pk}", "open-jobs", f"owner:job:{instance.pk}")


@receiver([post_save, post_delete], sender=Bid)
def _bid_changed(instance: Bid, **kwargs) -> None:  # noqa: ANN003
    _bump(f"job:{instance.job_id}", f"cleaner:{instance.cleaner_id}")


@receiver([post_save, post_delete], sender=CleanerProfile)
def _cleaner_changed(instance: CleanerProfile, **kwargs) -> None:  # noqa: ANN003
    _bump(f"cleaner:{instance.pk}", f"owner:cleaner:{instance.pk}")


@receiver(post_save, sender=ClientProfile)
def _client_changed(instance: ClientProfile, created: bool, **kwargs) -> None:  # noqa: ANN003
    # Its jobs' owner is this profile's user: a profile moved to another user moves them all,
    # with the answers cached for the old one. (Deleting it deletes its jobs, one signal each.)
    if not created:
        jobs = CleaningJob.objects.filter(client_id=instance.pk).values_list("pk", flat=True)
        names = [name for pk in jobs for name in (f"job:{pk}", f"owner:job:{pk}")]
        if names:
            _bump(*names)
