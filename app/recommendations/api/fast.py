"""The cached-answer fast path: a repeated question answered before DRF is involved.

A token user asking a plain question about their own job (or themselves, for a cleaner) again
is the API's most frequent request, and its answer is a Redis read. Through DRF that read is a
small part of the work: the request wrapper, content negotiation, the input serializer (which
deep-copies its fields on every request), building a `User`, permissions, throttles and the
response's finalisation cost more than the Redis round trips. Here the whole answer is one
Redis command (the token's record, the throttle's count and, once this process knows the
token's user, the cache entry: `token_lookup`) and a little Python.

`cached_first` puts `answer_from_cache` in front of the DRF view. It answers only what it can
answer exactly as the view would, and nothing else: a `POST` with an `Authorization: Token`
header whose user is in the authentication cache (never an integration account's token, which
the view refuses), or with `Authorization: Bearer <integration key>` (read as
`IntegrationKeyAuthentication` reads it), under the throttle's rate; an empty or small UTF-8
JSON body holding at most `limit` (an integer in range), `mode` (a known mode or "") and an
empty `callback_url`; no query string; an `Accept` that allows JSON; and a fresh cached answer.
A client or a cleaner asks about its own subject: the answer cached under its id is the proof
that it may (app/recommendations/questions.py), so no query is made. An operator or an
integration key asks on anyone's behalf: the subject is loaded first by the view's own
function (api/subjects.py: 404 for none, 409 for a job closed or without client or property),
then the cache is read under the subject's A/B variant, as the view reads it. Anything else —
including every error, and every input it might read otherwise than DRF — goes to the DRF
view, which takes it from the start and gives the usual answer or problem (the tests compare
the two, variant by variant and credential by credential). What the fast path already did is
not done twice: the token lookup (and so the throttle's count, `token_lookup`), a key's lookup
and count (`IntegrationKeyAuthentication`'s `LOOKED_UP`, `count_user`) and the cache lookup
(`cache_lookup_once`) are remembered on the request and reused by the view.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, InterfaceError
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework.exceptions import APIException, AuthenticationFailed

from app.accounts.models import User
from app.api.authentication import throttle_ident, token_from_header, token_lookup, user_from_record
from app.api.parsers import json_text_load
from app.api.throttling import COUNTED, RedisUserRateThrottle
from app.integrations.authentication import IntegrationKeyAuthentication
from app.observability.metrics import cache_lookup_record
from app.recommendations.api.serializers import RecommendationInput
from app.recommendations.api.subjects import visible_cleaner, visible_job
from app.recommendations.cache import CacheLookup, cache_lookup, cache_lookup_keys, cache_lookup_read
from app.recommendations.experiments import experiment_assign
from app.recommendations.models import RecommendationRequest
from app.recommendations.questions import may_ask_about_anyone, may_ask_about_own, own_question

Kind = RecommendationRequest.Kind

# A plain question's body is a few dozen bytes; anything longer takes the full path.
_MAX_BODY = 1024
_JSON_RANGES = frozenset(["*/*", "application/*", "application/json"])
_UTF8 = frozenset([None, "utf-8", "utf8", "UTF-8", "UTF8"])  # a body's declared charset (None: none)
# Where the cache lookup's answer is left on the Django request: (question, CacheLookup).
_LOOKED_UP = "recsvc_cache_looked_up"
# A token's user id (by the token's hash) as its cached record last said, in this process, and
# whether that user asks on anyone's behalf. A token belongs to one user for its whole life, so
# a wrong guess can only cost a round trip: the record read in the same round trip decides
# whether what was read with the guess is used.
_token_users: dict[str, tuple[int, bool]] = {}
_TOKEN_USERS_MAX = 100_000


def cached_response(answer: bytes) -> HttpResponse:
    """200 with a cached answer (`CachedAnswer` in the schema): the stored JSON object plus `"cached": true`.

    Spliced rather than parsed and rendered again: this is the whole of a cached answer's work.
    """
    return HttpResponse(answer[:-1] + b', "cached": true}', content_type="application/json")


def cache_lookup_once(
    request: HttpRequest, *, kind: str, user_id: int, job_id: int | None, cleaner_id: int | None, limit: int, mode: str
) -> CacheLookup:
    """`cache_lookup`, done once per request for the same question (the fast path, then the view)."""
    question = {
        "kind": kind,
        "user_id": user_id,
        "job_id": job_id,
        "cleaner_id": cleaner_id,
        "limit": limit,
        "mode": mode,
    }
    done = getattr(request, _LOOKED_UP, None)
    if done is not None and done[0] == question:
        return done[1]
    return _remember(request, question, cache_lookup(**question))


def _remember(request: HttpRequest, question: dict, found: CacheLookup) -> CacheLookup:
    setattr(request, _LOOKED_UP, (question, found))
    return found


@dataclass(frozen=True)
class PlainInput:
    """What a plain body may hold, read from the view's input serializer (one source of truth)."""

    fields: frozenset[str]
    limit_default: int
    limit_min: int
    limit_max: int
    mode_default: str
    modes: frozenset[str]


@lru_cache(maxsize=1)
def plain_input() -> PlainInput:
    fields = RecommendationInput().fields
    limit, mode = fields["limit"], fields["mode"]
    return PlainInput(
        fields=frozenset(fields),
        limit_default=limit.default,
        limit_min=limit.min_value,
        limit_max=limit.max_value,
        mode_default=mode.default,
        modes=frozenset(mode.choices) | ({""} if mode.allow_blank else set()),
    )


def _plain_question(request: HttpRequest) -> tuple[int, str] | None:
    """(limit, mode) of a body the input serializer would accept as is; None for anything else."""
    if request.META.get("QUERY_STRING") or not _accepts_json(request.META.get("HTTP_ACCEPT")):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length == 0:
        data = {}
    elif length > _MAX_BODY or request.content_type != "application/json" or request.encoding not in _UTF8:
        return None
    else:
        try:
            # As the view's parser reads it: decoded as UTF-8 first (so a BOM is an error), then
            # the same checks (nesting, NaN, repeated keys, lone surrogates).
            data = json_text_load(request.body.decode("utf-8"))
        except ValueError:
            return None
    rules = plain_input()
    # callback_url: a caller who asked for a callback gets one, so only its absence is plain.
    if not isinstance(data, dict) or not data.keys() <= rules.fields or data.get("callback_url", "") != "":
        return None
    limit, mode = data.get("limit", rules.limit_default), data.get("mode", rules.mode_default)
    if type(limit) is not int or not rules.limit_min <= limit <= rules.limit_max:
        return None
    if type(mode) is not str or mode not in rules.modes:
        return None
    return limit, mode


def _accepts_json(accept: str | None) -> bool:
    # What DRF's content negotiation would pick JSON for (JSON is the API's only renderer); only
    # a missing header means "anything".
    return accept is None or any(part.split(";", 1)[0].strip() in _JSON_RANGES for part in accept.split(","))


def answer_from_cache(
    request: HttpRequest, *, kind: str, job_id: int | None = None, cleaner_id: int | None = None
) -> HttpResponse | None:
    """The cached answer to this request, if it is a plain repeated question; None: ask the view."""
    if request.method != "POST":
        return None
    key = token_from_header(request)
    bearer = key is None and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
    plain = _plain_question(request) if key is not None or bearer else None
    if plain is None:
        return None
    question = Question(kind=kind, job_id=job_id, cleaner_id=cleaner_id, limit=plain[0], mode=plain[1])
    try:
        found = _token_answer(request, key, question) if key is not None else _key_answer(request, question)
    except (DatabaseError, InterfaceError):
        # An operator's or a key's question reads the database here, outside DRF: an outage (or
        # any refused query) goes to the view, whose exception handler answers it (503), not to
        # Django's 500 handler.
        return None
    if found is None or found.answer is None:
        return None  # the view answers, and records the miss
    cache_lookup_record(hit=True)
    response = cached_response(found.answer)
    response["Allow"] = "POST, OPTIONS"  # as DRF's APIView says on every answer
    return response


@dataclass(frozen=True)
class Question:
    """A plain question as the URL and the body ask it; whose answer depends on who asks."""

    kind: str
    job_id: int | None
    cleaner_id: int | None
    limit: int
    mode: str

    def own(self, user_id: int) -> dict:
        """The cache lookup's question when `user_id` asks about their own subject."""
        ids = {"job_id": self.job_id, "cleaner_id": self.cleaner_id}
        return own_question(kind=self.kind, user_id=user_id, **ids, limit=self.limit, mode=self.mode)[0]

    def anyones(self, user_id: int) -> dict | None:
        """The same when `user_id` asks on anyone's behalf, if known before the subject is loaded.

        The A/B variant is the subject's, so only an explicit mode, or no experiment, says it.
        """
        if not (self.mode or not settings.RECOMMENDATION_AB_TEST_ENABLED):
            return None
        return self.for_subject(user_id, job=None, cleaner=None)

    def for_subject(self, user_id: int, *, job, cleaner) -> dict:
        """As the view asks on anyone's behalf (views._request_or_cached), the subject loaded."""
        assignment = experiment_assign(kind=self.kind, job=job, cleaner=cleaner, mode=self.mode)
        ids = {"job_id": self.job_id, "cleaner_id": self.cleaner_id}
        return {"kind": self.kind, "user_id": user_id, **ids, "limit": self.limit, "mode": assignment.cache_mode}


def _token_answer(request: HttpRequest, key: str, question: Question) -> CacheLookup | None:
    """What the cache holds for a token's question, or None where only the view may answer."""
    ident = throttle_ident(key)
    # The cache lookup rides in the token's round trip when this process knows the token's user.
    guess = _token_users.get(ident)
    guessed = None
    if guess is not None:
        guessed = question.anyones(guess[0]) if guess[1] else question.own(guess[0])
    keys = cache_lookup_keys(**guessed) if guessed else []
    record, values = token_lookup(request, key, also_get=keys)
    if not record:
        return None
    user = json.loads(record)
    counted = getattr(request, COUNTED, None)
    if counted is not None and counted[1] > RedisUserRateThrottle().num_requests:
        return None  # the view answers 429
    if not user["is_active"] or user["role"] == User.Role.INTEGRATION:
        return None  # the view refuses the token (an integration account speaks only through its key)
    anyone = may_ask_about_anyone(role=user["role"], is_superuser=user["is_superuser"])
    if guess != (user["id"], anyone) or not guessed:
        if len(_token_users) >= _TOKEN_USERS_MAX:
            _token_users.clear()
        _token_users[ident] = (user["id"], anyone)
        values = None
    if anyone:
        return _anyones_answer(request, user_from_record(user), question, keys, values)
    if not may_ask_about_own(kind=question.kind, role=user["role"]):
        return None  # the view answers 404
    if values is not None:
        return _remember(request, guessed, cache_lookup_read(keys, values))
    return cache_lookup_once(request, **question.own(user["id"]))


def _key_answer(request: HttpRequest, question: Question) -> CacheLookup | None:
    """What the cache holds for an integration key's question (`Bearer rsk_...`), or None."""
    try:
        found = IntegrationKeyAuthentication().authenticate(request)  # remembered for the view
    except AuthenticationFailed:
        return None  # the view answers 401
    if found is None:
        return None
    user = found[0]
    if not may_ask_about_anyone(role=user.role, is_superuser=user.is_superuser):
        return None
    throttle = RedisUserRateThrottle()
    count = throttle.count_user(request, user.pk)  # counted once: the view's throttle reads it
    if count is None or count > throttle.num_requests:
        return None  # Redis down (the view decides), or the view answers 429
    return _anyones_answer(request, user, question, [], None)


def _anyones_answer(
    request: HttpRequest, user: User, question: Question, keys: list[str], values: list | None
) -> CacheLookup | None:
    """An operator's or a key's question: the subject loaded as the view loads it, then the cache."""
    try:
        if question.kind == Kind.CLEANERS_FOR_JOB:
            job, cleaner = visible_job(user, pk=question.job_id), None
        else:
            job, cleaner = None, visible_cleaner(user, pk=question.cleaner_id)
    except (Http404, APIException):
        return None  # the view answers 404 or 409
    asked = question.for_subject(user.pk, job=job, cleaner=cleaner)
    if values is not None and keys == cache_lookup_keys(**asked):
        return _remember(request, asked, cache_lookup_read(keys, values))
    return cache_lookup_once(request, **asked)


def cached_first(view: Callable[..., HttpResponse], *, kind: str) -> Callable[..., HttpResponse]:
    """`view` (a DRF view function) behind the fast path for questions of `kind`."""

    @functools.wraps(view)  # keeps `cls`, `initkwargs` and `csrf_exempt`: the schema and CSRF see the view
    def wrapper(request: HttpRequest, **kwargs: int) -> HttpResponse:
        ids = {"job_id": kwargs.get("job_id"), "cleaner_id": kwargs.get("cleaner_id")}
        response = answer_from_cache(request, kind=kind, **ids)
        return response if response is not None else view(request, **kwargs)

    return wrapper
