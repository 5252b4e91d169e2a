"""The result cache: a finished request's answer, reused for the same question.

Key: (kind, requester, subject, limit, mode) plus generation counters that invalidate it:

- `model` — bumped whenever a model version is activated or deactivated;
- `job:<id>` — bumped when the job or one of its bids changes;
- `cleaner:<id>` — bumped when the cleaner's profile or bids change;
- `open-jobs` — bumped when any job is created or changes status (a cleaner's list of open
  jobs depends on all of them).

Bumping a counter makes every key built with the old value unreachable; the entries then
expire on their own after `RECOMMENDATION_CACHE_TTL`. The requester is part of the key, so a
cached answer always points at a request its reader owns.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings

from app.recommendations.results import client

logger = logging.getLogger(__name__)

GEN = "recsvc:gen:{name}"
ENTRY = "recsvc:cache:{kind}:{user}:{subject}:{limit}:{mode}:{gens}"

# Which generations each kind of request depends on.
_DEPENDS = {
    "cleaners_for_job": lambda job, cleaner: ["model", f"job:{job}"],
    "jobs_for_cleaner": lambda job, cleaner: ["model", f"cleaner:{cleaner}", "open-jobs"],
    "bid_suggestion": lambda job, cleaner: ["model", f"job:{job}", f"cleaner:{cleaner}"],
}


def generation_bump(*names: str) -> None:
    try:
        pipe = client().pipeline(transaction=False)
        for name in names:
            pipe.incr(GEN.format(name=name))
        pipe.execute()
    except Exception:  # noqa: BLE001 - a missed bump is bounded by the TTL; never fail a write for it
        logger.warning("could not bump cache generations %s", names)


def cache_key(*, kind: str, user_id: int, job_id: int | None, cleaner_id: int | None, limit: int, mode: str) -> str:
    """The entry's key, or "" (do not cache) when Redis cannot say which generation is current."""
    names = _DEPENDS[kind](job_id, cleaner_id)
    try:
        gens = client().mget([GEN.format(name=n) for n in names])
    except Exception:  # noqa: BLE001 - the request itself will report the outage
        logger.warning("cache unavailable: computing without it")
        return ""
    gen_part = ".".join((g or b"0").decode() for g in gens)
    subject = f"{job_id or '-'}/{cleaner_id or '-'}"
    return ENTRY.format(kind=kind, user=user_id, subject=subject, limit=limit, mode=mode or "default", gens=gen_part)


def cache_get(key: str) -> dict | None:
    if not key:
        return None
    try:
        body = client().get(key)
    except Exception:  # noqa: BLE001
        return None
    return json.loads(body) if body else None


def cache_put(key: str, payload: dict) -> None:
    try:
        client().set(key, json.dumps(payload, default=str), ex=settings.RECOMMENDATION_CACHE_TTL)
    except Exception:  # noqa: BLE001 - an answer not cached is only a slower next answer
        logger.warning("could not cache %s", key)
