"""What bulk writes must announce themselves, since they send no Django signals.

The signals of app/recommendations/signals.py and app/accounts/signals.py keep cached answers,
owner records and cached authentication fresh on every ORM save (the workers' cleaner tables
read a change log that database triggers write: app/recommendations/cleaner_changes.py).
`Changes` collects the same facts during one ingest call and `publish` sends them once the
transaction commits, so the very next recommendation sees the write (read-your-writes). Two
facts the signals do not cover are added here: a property's change reaches its jobs' answers,
and so does a change of a client's blocked cleaners (through the client's jobs); and the
cleaners of written jobs, bids and reviews are rescored after commit, as the signals do for ORM
saves. A write that touches thousands of subjects (a bulk import) invalidates all cached answers
and owner records at once instead, as `generate_training_data` does: the same effect, in two
Redis commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from rest_framework.authtoken.models import Token

from app.api.authentication import auth_cache_forget
from app.marketplace.models import CleaningJob
from app.recommendations.cache import generation_bump, owner_forget_all
from app.recommendations.cleaner_scores import cleaner_scores_update

MANY = 2000  # generations; beyond this, invalidate everything at once (see _publish)


@dataclass
class Changes:
    generations: set[str] = field(default_factory=set)
    users: set[int] = field(default_factory=set)  # updated users: drop their cached authentication
    clients: set[int] = field(default_factory=set)  # updated clients: their jobs' answers
    properties: set[int] = field(default_factory=set)  # updated properties: their jobs' answers
    scores: set[int] = field(default_factory=set)  # cleaners of written jobs, bids, reviews: rescored

    def job(self, pk: int) -> None:
        self.generations.update((f"job:{pk}", "open-jobs", f"owner:job:{pk}"))

    def bid(self, job: int, cleaner: int) -> None:
        self.generations.update((f"job:{job}", f"cleaner:{cleaner}"))

    def cleaner(self, pk: int) -> None:
        self.generations.update((f"cleaner:{pk}", f"owner:cleaner:{pk}", "cleaners"))

    def publish_on_commit(self) -> None:
        """Gather what depends on the changed rows (now, inside the transaction) and announce it after commit."""
        names = set(self.generations)
        if self.clients or self.properties:
            jobs = CleaningJob.objects.filter(client_id__in=self.clients) | CleaningJob.objects.filter(
                property_id__in=self.properties
            )
            for pk in jobs.values_list("pk", flat=True):
                names.update((f"job:{pk}", "open-jobs", f"owner:job:{pk}"))
        tokens = list(Token.objects.filter(user_id__in=self.users).values_list("key", flat=True)) if self.users else []
        if names or tokens:
            transaction.on_commit(lambda: _publish(sorted(names), tokens))
        scores = sorted(self.scores)
        if 0 < len(scores) <= MANY:  # more: a bulk import, which refreshes every score after
            transaction.on_commit(lambda: cleaner_scores_update(cleaner_ids=scores), robust=True)


def _publish(names: list[str], tokens: list[str]) -> None:
    if len(names) > MANY:
        # One key instead of thousands (a bulk import): every cached answer depends on "model", and
        # every owner record goes; what the signals' bumps would have invalidated is invalidated.
        generation_bump("model", "open-jobs")
        owner_forget_all()
    elif names:
        generation_bump(*names)
    auth_cache_forget(tokens)
