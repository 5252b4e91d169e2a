"""Deleting a person: what goes, what stays without them, and the caches that must forget them.

Called by `PersonEntity.delete` inside the ingest transaction, before the users are deleted
(their profiles, tokens, webhook endpoints, callback secrets, feedback they sent, questions
they asked and everything else keyed by the user or the profile go by CASCADE). What this adds:

- A client's jobs stay, without the client (`client` and `property` become null; the
  properties are deleted with the profile): they are the cleaners' work history, the reviews
  that make the cleaners' scores, the accepted prices bid suggestions learn from. Their free
  text (`title`, `description`) is blanked, jobs not yet finished are cancelled (no one is
  there to be served) and their pending bids rejected. Such a job is never recommended again
  and no retrain sees it (its client's id is gone). Everything recommended about those jobs
  (cleaner and job recommendations, bid suggestions, the requests and their answers, feedback
  about them) is deleted: it described the client's questions.
- A cleaner's bids and reviews stay, without the cleaner (`cleaner` null): the jobs' history
  (which bid won, the rating the client gave). Bid messages and review comments are blanked;
  pending bids are withdrawn; jobs assigned to or in progress with the cleaner open for bids
  again. Every answer that listed the cleaner is deleted (requests whose result names them).
- Cached answers: every one is dropped (the `model` generation: any of them may list the
  person or their jobs), and the owner records of their jobs; the ORM's signals do the rest.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from app.marketplace.models import Bid, CleaningJob, Review
from app.recommendations.cache import generation_bump
from app.recommendations.models import (
    BidSuggestion,
    CleanerRecommendation,
    JobRecommendation,
    RecommendationFeedback,
    RecommendationRequest,
)

S = CleaningJob.Status
OPEN = (S.DRAFT, S.OPEN_FOR_BIDS, S.ASSIGNED, S.IN_PROGRESS)


def clients_forget(client_ids: list[int]) -> None:
    jobs = list(CleaningJob.objects.filter(client_id__in=client_ids).values_list("pk", flat=True))
    _answers_about(jobs=jobs)
    for model in (CleanerRecommendation, JobRecommendation, BidSuggestion, RecommendationFeedback):
        model.objects.filter(job_id__in=jobs).delete()
    RecommendationRequest.objects.filter(job_id__in=jobs).delete()
    Bid.objects.filter(job_id__in=jobs, status=Bid.Status.PENDING).update(status=Bid.Status.REJECTED)
    CleaningJob.objects.filter(pk__in=jobs, status__in=OPEN).update(status=S.CANCELLED, cancelled_by_cleaner=False)
    CleaningJob.objects.filter(pk__in=jobs).update(title="", description="")
    Review.objects.filter(client_id__in=client_ids).update(comment="")
    names = [name for pk in jobs for name in (f"job:{pk}", f"owner:job:{pk}")]
    transaction.on_commit(lambda: generation_bump("model", "open-jobs", *names))


def cleaners_forget(cleaner_ids: list[int]) -> None:
    _answers_about(cleaners=cleaner_ids)
    Bid.objects.filter(cleaner_id__in=cleaner_ids, status=Bid.Status.PENDING).update(status=Bid.Status.WITHDRAWN)
    Bid.objects.filter(cleaner_id__in=cleaner_ids).update(message="")
    Review.objects.filter(cleaner_id__in=cleaner_ids).update(comment="")
    reopened = list(
        CleaningJob.objects.filter(
            assigned_cleaner_id__in=cleaner_ids, status__in=(S.ASSIGNED, S.IN_PROGRESS)
        ).values_list("pk", flat=True)
    )
    CleaningJob.objects.filter(pk__in=reopened).update(status=S.OPEN_FOR_BIDS, assigned_cleaner=None)
    names = [name for pk in reopened for name in (f"job:{pk}", f"owner:job:{pk}")]
    names += [name for pk in cleaner_ids for name in (f"cleaner:{pk}", f"owner:cleaner:{pk}")]
    transaction.on_commit(lambda: generation_bump("model", "open-jobs", *names))


def _answers_about(*, jobs: list[int] = (), cleaners: list[int] = ()) -> None:  # type: ignore[assignment]
    """Delete the requests whose stored answer names one of these jobs or cleaners."""
    wanted = [("cleaners", "cleaner_id", pk) for pk in cleaners] + [("jobs", "job_id", pk) for pk in jobs]
    if not wanted:
        return
    answered = RecommendationRequest.objects.filter(result__isnull=False)
    if connection.vendor == "postgresql":  # jsonb containment, one query
        match = Q()
        for key, field, pk in wanted:
            match |= Q(**{f"result__{key}__contains": [{field: pk}]})
        match |= Q(result__cleaner_id__in=list(cleaners)) | Q(result__job_id__in=list(jobs))
        answered.filter(match).delete()
        return
    _delete_naming(answered, wanted, set(cleaners), set(jobs))


def _delete_naming(answered: QuerySet, wanted: list, cleaners: set[int], jobs: set[int]) -> None:
    doomed = []
    for pk, result in answered.values_list("pk", "result").iterator():
        if not isinstance(result, dict):
            continue
        listed = {
            (key, row.get(field))
            for key in ("cleaners", "jobs")
            for row in result.get(key) or []
            if isinstance(row, dict)
            for field in ("cleaner_id", "job_id")
        }
        if (
            result.get("cleaner_id") in cleaners
            or result.get("job_id") in jobs
            or any((k, pk_) in listed for k, _, pk_ in wanted)
        ):
            doomed.append(pk)
    RecommendationRequest.objects.filter(pk__in=doomed).delete()
