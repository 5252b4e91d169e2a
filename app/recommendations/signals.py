"""The recommendation side follows the marketplace: cached answers, ownership and the cleaner table.

A job, bid or profile change bumps the cache generations it affects (app/recommendations/cache.py);
the workers' cleaner tables need nothing from here: database triggers log every cleaner and
score write (app/recommendations/cleaner_changes.py).
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile
from app.recommendations.cache import generation_bump


def _bump(*names: str) -> None:
    # After commit too: a worker that recomputed in between must not have cached the old state,
    # and an ownership check that read the old owner in between must not be trusted.
    generation_bump(*names)
    transaction.on_commit(lambda: generation_bump(*names))


@receiver([post_save, post_delete], sender=CleaningJob)
def _job_changed(instance: CleaningJob, **kwargs) -> None:
    _bump(f"job:{instance.pk}", "open-jobs", f"owner:job:{instance.pk}")


@receiver([post_save, post_delete], sender=Bid)
def _bid_changed(instance: Bid, **kwargs) -> None:
    _bump(f"job:{instance.job_id}", f"cleaner:{instance.cleaner_id}")


@receiver([post_save, post_delete], sender=CleanerProfile)
def _cleaner_changed(instance: CleanerProfile, **kwargs) -> None:
    _bump(f"cleaner:{instance.pk}", f"owner:cleaner:{instance.pk}", "cleaners")


@receiver(post_save, sender=ClientProfile)
def _client_changed(instance: ClientProfile, created: bool, **kwargs) -> None:
    # Its jobs' owner is this profile's user: a profile moved to another user moves them all,
    # with the answers cached for the old one. (Deleting it deletes its jobs, one signal each.)
    if not created:
        jobs = CleaningJob.objects.filter(client_id=instance.pk).values_list("pk", flat=True)
        names = [name for pk in jobs for name in (f"job:{pk}", f"owner:job:{pk}")]
        if names:
            _bump(*names)
