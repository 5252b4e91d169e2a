"""The subject of a question, loaded as the caller may see it: shared by the views and the fast path.

Ids that are not the caller's answer 404, exactly like ids that do not exist; a job no longer
open, or whose client or property was deleted, answers 409. Who may ask about whom is decided
by app/recommendations/questions.py.
"""

from __future__ import annotations

from django.http import Http404

from app.accounts.models import User
from app.api.errors import Conflict
from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.models import RecommendationRequest
from app.recommendations.questions import may_ask_about_anyone, may_ask_about_own

Kind = RecommendationRequest.Kind
CLOSED_JOB_STATUSES = (CleaningJob.Status.COMPLETED, CleaningJob.Status.CANCELLED)


def asks_for_anyone(user: User) -> bool:
    return may_ask_about_anyone(role=user.role, is_superuser=user.is_superuser)


def visible_job(user: User, **lookup: int | str) -> CleaningJob:
    """The job `lookup` names (`pk=` or `external_id=`) if `user` may ask about it, else 404."""
    qs = CleaningJob.objects.select_related("client")
    if not asks_for_anyone(user):
        if not may_ask_about_own(kind=Kind.CLEANERS_FOR_JOB, role=user.role):
            raise Http404
        qs = qs.filter(client__user=user)
    try:
        job = qs.get(**lookup)
    except CleaningJob.DoesNotExist:
        raise Http404 from None
    if job.client_id is None or job.property_id is None:
        raise Conflict("This job's client or property was deleted: the job is kept as history only.")
    if job.status in CLOSED_JOB_STATUSES:
        raise Conflict(f"This job is {job.status}: cleaners are recommended only for jobs still open.")
    return job


def visible_cleaner(user: User, **lookup: int | str) -> CleanerProfile:
    """The cleaner `lookup` names (`pk=` or `external_id=`) if `user` may ask about it, else 404."""
    qs = CleanerProfile.objects.all()
    if not asks_for_anyone(user):
        qs = qs.filter(user=user)
    try:
        return qs.get(**lookup)
    except CleanerProfile.DoesNotExist:
        raise Http404 from None
