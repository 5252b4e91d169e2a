"""The rules of asking for recommendations, shared by the DRF views and the fast path (api/fast.py).

Who may ask: an operator or an integration key asks about anyone (the view loads the subject);
anyone else asks about their own, and only a client has jobs, so only a client asks for a job's
cleaners. Which question it is: the A/B assignment decides the mode unless the caller chose one,
so the cache key holds the assignment's mode, and two variants never share an answer.
"""

from __future__ import annotations

from app.accounts.models import User
from app.recommendations.experiments import Assignment, experiment_assign_for_user
from app.recommendations.models import RecommendationRequest

Kind = RecommendationRequest.Kind


def may_ask_about_anyone(*, role: str, is_superuser: bool) -> bool:
    """Whether a user asks on any subject's behalf: operators, and the marketplace's integration keys."""
    return User.operates(role=role, is_superuser=is_superuser) or role == User.Role.INTEGRATION


def may_ask_about_own(*, kind: str, role: str) -> bool:
    """Whether a non-operator of `role` can own the subject of a `kind` question at all."""
    return kind != Kind.CLEANERS_FOR_JOB or role == User.Role.CLIENT


def own_question(
    *, kind: str, user_id: int, job_id: int | None, cleaner_id: int | None, limit: int, mode: str
) -> tuple[dict, Assignment]:
    """The cache lookup's question for a user asking about their own subject, and its assignment."""
    assignment = experiment_assign_for_user(user_id=user_id, mode=mode)
    question = {
        "kind": kind,
        "user_id": user_id,
        "job_id": job_id,
        "cleaner_id": cleaner_id,
        "limit": limit,
        "mode": assignment.cache_mode,
    }
    return question, assignment
