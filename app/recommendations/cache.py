"""The result cache: a finished request's answer, reused for the same question.

Key: (kind, requester, subject, limit, mode) plus generation counters that invalidate it:

- `model` — bumped whenever a model version is activated or deactivated;
- `job:<id>` — bumped when the job or one of its bids changes;
- `cleaner:<id>` — bumped when the cleaner's profile or bids change;
- `open-jobs` — bumped when any job is created or changes status (a cleaner's list of open
  jobs depends on all of them).

An entry records the generations its request saw; a lookup reads the entry and the current
generations in one MGET and uses the entry only if they still match. Bumping a counter thus
invalidates every entry that depends on it at once; a newer answer overwrites the entry, and
an unused one expires after `RECOMMENDATION_CACHE_TTL`. The requester is part of the key, so a
cached answer always points at a request its reader owns.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings

from app.recommendations.results import client

logger = logging.getLogger(__name__)

GEN = "recsvc:gen:{name}"
ENTRY = "recsvc:cache:{kind}:{user}:{subject}:{limit}:{mode}"

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


def cache_lookup(
    *, kind: str, user_id: int, job_id: int | None, cleaner_id: int | None, limit: int, mode: str
) -> tuple[str, dict | None]:
    """One round trip: the entry and the current generations it depends on, read together.

    Returns (token, answer). The answer is None on a miss or when any generation moved since
    the entry was written. The token (entry key and the generations seen now) is what the
    worker caches its answer under; "" when Redis is unavailable (then nothing is cached).
    """
    names = _DEPENDS[kind](job_id, cleaner_id)
    subject = f"{job_id or '-'}/{cleaner_id or '-'}"
    entry = ENTRY.format(kind=kind, user=user_id, subject=subject, limit=limit, mode=mode or "default")
    try:
        found, *gens = client().mget([entry, *(GEN.format(name=n) for n in names)])
    except Exception:  # noqa: BLE001 - the request itself will report the outage
        logger.warning("cache unavailable: computing without it")
        return "", None
    current = ".".join((g or b"0").decode() for g in gens)
    token = f"{entry}#{current}"
    if not found:
        return token, None
    stored = json.loads(found)
    return token, stored["payload"] if stored.get("gens") == current else None


def cache_put(token: str, payload: dict) -> None:
    """Cache an answer under the generations its request saw (see cache_lookup)."""
    if not token:
        return
    entry, _, gens = token.rpartition("#")
    try:
        body = json.dumps({"gens": gens, "payload": payload}, default=str)
        client().set(entry, body, ex=settings.RECOMMENDATION_CACHE_TTL)
    except Exception:  # noqa: BLE001 - an answer not cached is only a slower next answer
        logger.warning("could not cache %s", entry)
