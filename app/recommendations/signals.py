"""Keep the workers' in-memory cleaner table fresh: any cleaner or score save bumps its version."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from app.marketplace.models import CleanerProfile
from app.recommendations.cleaner_version import cleaners_changed
from app.recommendations.models import CleanerScore


@receiver([post_save, post_delete], sender=CleanerProfile)
@receiver([post_save, post_delete], sender=CleanerScore)
def _cleaner_changed(**kwargs) -> None:  # noqa: ANN003
    # Now, for readers inside this transaction, and again after commit, because a worker that
    # reloaded between the two would otherwise keep a table without the new row.
    cleaners_changed()
    transaction.on_commit(cleaners_changed)
