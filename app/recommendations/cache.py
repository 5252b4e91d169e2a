"""The result cache: a finished request's answer, reused for the same question.

An entry is keyed by (kind, requester, subject, limit, mode) and records the generations it saw
(`model`, `job:<id>`, `cleaner:<id>`, `open-jobs`); a lookup uses it only while they still
match, so a bump invalidates every dependent entry at once. The same read gets the subject's
recorded owner, fenced by an ownership generation. Why generations are random numbers that
expire, and why that is safe: docs/cache.md.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import NamedTuple

from django.conf import settings

from app.common.redis_client import client

logger = logging.getLogger(__name__)

GEN = "recsvc:gen:{name}"
# `v2`: answers carry the subjects' external ids. A new shape of answer takes a new version, so
# that no answer of the old shape is served after a deploy (the old entries simply expire).
ENTRY = "recsvc:cache:v2:{kind}:{user}:{subject}:{limit}:{mode}"
OWNER = "recsvc:owner:{subject}"
# An owner record outlives no change to its subject (see above); the TTL only bounds memory.
OWNER_TTL = 7 * 24 * 3600

# Which generations each kind of request depends on.
_DEPENDS = {
    # `cleaners`: any cleaner created, changed or deactivated may enter or leave any job's answer.
    "cleaners_for_job": lambda job, cleaner: ["model", f"job:{job}", "cleaners"],
    "jobs_for_cleaner": lambda job, cleaner: ["model", f"cleaner:{cleaner}", "open-jobs"],
    "bid_suggestion": lambda job, cleaner: ["model", f"job:{job}", f"cleaner:{cleaner}"],
}


# A request older than this when it finishes does not cache its answer (see the docstring).
CACHEABLE_FOR = 24 * 3600


def generation_ttl() -> int:
    """How long a generation outlives its last bump: longer than anything that could record a value."""
    return max(settings.RECOMMENDATION_CACHE_TTL, OWNER_TTL) + CACHEABLE_FOR


# One command for any number of names: a bulk import bumps thousands, and a pipeline of SETs
# costs about three times as much in the client as one script call with the same values.
_BUMP = "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1]) end"


def generation_bump(*names: str) -> None:
    """Invalidate every answer (or owner record) that depends on `names`: a new value for each."""
    if not names:
        return
    try:
        values = [1 + secrets.randbits(62) for _ in names]  # never "0"
        client().register_script(_BUMP)(keys=[GEN.format(name=n) for n in names], args=[generation_ttl(), *values])
    except Exception:  # a missed bump is bounded by the TTLs; never fail a write for it
        logger.warning("could not bump cache generations %s", names)


def owner_forget_all() -> None:
    """Drop every owner record: after bulk writes that sent no signals, or ids that may be reused."""
    try:
        keys = list(client().scan_iter(match=OWNER.format(subject="*"), count=1000))
        for start in range(0, len(keys), 1000):
            client().delete(*keys[start : start + 1000])
    except Exception:  # only a slower next question
        logger.error("could not drop the owner records")


class CacheLookup(NamedTuple):
    """What one lookup found.

    `token`: what the worker caches its answer under (the entry key and the generations seen
    now); "" when Redis is unavailable (then nothing is cached). `answer`: the cached answer as
    stored, a JSON object, None on a miss or when a generation moved since it was written.
    `owner`: the subject's owner as recorded (`owner_remember`) under the current ownership
    generation, None when unknown. `owner_gen`: that generation, for `owner_remember`.
    """

    token: str
    answer: bytes | None
    owner: int | None
    owner_gen: str = ""


def owner_subject(*, kind: str, job_id: int | None, cleaner_id: int | None) -> str:
    """The subject whose owner may ask this kind of question: the job, or the cleaner."""
    return f"cleaner:{cleaner_id}" if kind == "jobs_for_cleaner" else f"job:{job_id}"


def owner_generation(subject: str) -> str:
    """The generation that any change to `subject`'s ownership bumps (see the module's docstring)."""
    return f"owner:{subject}"


def owner_remember(subject: str, user_id: int, generation: str) -> None:
    """Record that the database showed `user_id` owns `subject`, asked after `generation` was read."""
    try:
        client().set(OWNER.format(subject=subject), f"{user_id}:{generation}", ex=OWNER_TTL)
    except Exception:  # the request itself will report the outage
        logger.warning("could not record the owner of %s", subject)


def cache_lookup_keys(
    *, kind: str, user_id: int, job_id: int | None, cleaner_id: int | None, limit: int, mode: str
) -> list[str]:
    """What one lookup reads: the entry, the subject's owner record and generation, the entry's generations."""
    subject = f"{job_id or '-'}/{cleaner_id or '-'}"
    entry = ENTRY.format(kind=kind, user=user_id, subject=subject, limit=limit, mode=mode or "default")
    owned = owner_subject(kind=kind, job_id=job_id, cleaner_id=cleaner_id)
    names = _DEPENDS[kind](job_id, cleaner_id)
    return [
        entry,
        OWNER.format(subject=owned),
        GEN.format(name=owner_generation(owned)),
        *(GEN.format(name=n) for n in names),
    ]


def cache_lookup_read(keys: list[str], values: list[bytes | None]) -> CacheLookup:
    """What the values of `cache_lookup_keys` (read together, at one moment) say."""
    found, owner, owner_gen, *gens = values
    current = ".".join((g or b"0").decode() for g in gens)
    token = f"{keys[0]}#{current}"
    owner_gen = (owner_gen or b"0").decode()
    owner_id, _, recorded_gen = (owner or b"").decode().partition(":")
    owner_id = int(owner_id) if owner_id and recorded_gen == owner_gen else None
    # An entry is "<generations>\n<the answer's JSON>": checked and served without parsing it.
    seen, newline, answer = (found or b"").partition(b"\n")
    fresh = bool(newline) and seen.decode() == current and answer.startswith(b"{") and answer.endswith(b"}")
    return CacheLookup(token, answer if fresh else None, owner_id, owner_gen)


def cache_lookup(
    *, kind: str, user_id: int, job_id: int | None, cleaner_id: int | None, limit: int, mode: str
) -> CacheLookup:
    """One round trip: the entry, the generations it depends on and the subject's owner, read together."""
    keys = cache_lookup_keys(kind=kind, user_id=user_id, job_id=job_id, cleaner_id=cleaner_id, limit=limit, mode=mode)
    try:
        values = client().mget(keys)
    except Exception:  # an answer not cached is only a slower next answer
        logger.warning("cache unavailable: computing without it")
        return CacheLookup("", None, None)
    return cache_lookup_read(keys, values)


def cache_put(token: str, payload: dict | str) -> None:
    """Cache an answer (a dict, or its JSON) under the generations its request saw (see cache_lookup)."""
    if not token:
        return
    entry, _, gens = token.rpartition("#")
    try:
        body = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        client().set(entry, f"{gens}\n{body}", ex=settings.RECOMMENDATION_CACHE_TTL)
    except Exception:
        logger.warning("could not cache %s", entry)


# Coalescing: identical questions in flight share one computation. The token names the question
# and the generations it saw, so a question asked after a change to its data starts its own.
INFLIGHT = "recsvc:inflight:{token}"
# Above a request's usual life (queue, a 60 s hard limit); the runner releases it when done.
INFLIGHT_TTL = 120
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def inflight_claim(token: str, request_id: str) -> str | None:
    """Record `request_id` as computing `token`'s answer; the id of the one already doing so, or None.

    Redis unreachable: None (compute, do not coalesce).
    """
    if not token:
        return None
    key = INFLIGHT.format(token=token)
    try:
        pipe = client().pipeline(transaction=False)
        pipe.set(key, request_id, nx=True, ex=INFLIGHT_TTL)
        pipe.get(key)
        taken, current = pipe.execute()
    except Exception:  # coalescing is an optimisation: never fail a request for it
        logger.warning("could not coalesce %s", key)
        return None
    return None if taken or current is None else current.decode()


def inflight_replace(token: str, request_id: str) -> None:
    """Make `request_id` the one computing `token` (the recorded one is finished or gone)."""
    try:
        client().set(INFLIGHT.format(token=token), request_id, ex=INFLIGHT_TTL)
    except Exception:
        logger.warning("could not record the computation of %s", token)


def inflight_release(token: str, request_id: str) -> None:
    """The computation of `token` by `request_id` is over (only if it is still the recorded one)."""
    if not token:
        return
    try:
        client().eval(_RELEASE, 1, INFLIGHT.format(token=token), request_id)
    except Exception:  # it expires after INFLIGHT_TTL anyway
        logger.warning("could not release the computation of %s", token)
