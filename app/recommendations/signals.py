"""The recommendation side follows the marketplace: cached answers, ownership and the cleaner table.

A job, bid or profile change bumps the cache generations it affects (app/recommendations/cache.py);
a review, a job or a bid rescores its cleaner right after commit. The workers' cleaner tables
need nothing from here: database triggers log every cleaner and score write
(app/recommendations/cleaner_changes.py).
"""

import threading

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile, Review
from app.recommendations.cache import generation_bump
from app.recommendations.cleaner_scores import cleaner_scores_update


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


_scores = threading.local()


def _rescore_after_commit(*cleaner_ids: int | None) -> None:
    # Once per cleaner per transaction (a cascade of 1,000 bids is one update, not 1,000), after
    # commit: the write's own transaction stays short. A crash in between leaves the drift to
    # the daily reconciliation, and so does a failure: robust, it is logged, never raised into a
    # request that has committed. Ids of a rolled-back transaction stay pending: rescored
    # needlessly at the next commit, which is harmless.
    ids = {pk for pk in cleaner_ids if pk is not None}
    if ids:
        pending = _scores.__dict__.setdefault("pending", set())
        pending |= ids
        transaction.on_commit(_rescore_pending, robust=True)


def _rescore_pending() -> None:
    pending = _scores.__dict__.setdefault("pending", set())
    if pending:
        ids = sorted(pending)
        pending.clear()
        cleaner_scores_update(cleaner_ids=ids)


@receiver([post_save, post_delete], sender=Review)
def _review_rescores(instance: Review, **kwargs) -> None:
    _rescore_after_commit(instance.cleaner_id)


@receiver([post_save, post_delete], sender=Bid)
def _bid_rescores(instance: Bid, **kwargs) -> None:
    _rescore_after_commit(instance.cleaner_id)


@receiver(pre_save, sender=CleaningJob)
def _job_cleaner_before(instance: CleaningJob, **kwargs) -> None:
    # A job given to another cleaner changes the counts of both.
    instance._cleaner_before = (
        CleaningJob.objects.filter(pk=instance.pk).values_list("assigned_cleaner_id", flat=True).first()
        if instance.pk
        else None
    )


@receiver([post_save, post_delete], sender=CleaningJob)
def _job_rescores(instance: CleaningJob, **kwargs) -> None:
    _rescore_after_commit(instance.assigned_cleaner_id, getattr(instance, "_cleaner_before", None))
