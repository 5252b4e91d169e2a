"""Writes of the webhooks app: endpoints, callback secrets, deliveries and their attempts.

A finished recommendation request becomes one delivery per target
(`webhook_deliveries_create_for_request`), an operators' alert such as a model degradation
one per active operator endpoint (`webhook_alert_send`); the worker's `webhooks.deliver` task makes one
attempt at a time (`webhook_delivery_attempt`), which claims the delivery with a conditional
UPDATE, so a redelivered or duplicated message does nothing. Retries are scheduled in the
row (`next_attempt_at`) and by a countdown message; `webhooks.sweep` re-enqueues what is due
and has no message out (`enqueued_at`: lost, or too far away to hold as one), claiming each
row with a conditional UPDATE so that a backlog, or two sweeps, never send a delivery twice.

Before it connects, an attempt asks its receiver's slots and circuit breaker
(`app.webhooks.receivers`): a receiver that hangs holds a few worker slots at most, and one
that keeps failing is not tried until a probe shows it back. A delivery not admitted is
deferred (a later due time and a countdown message, no attempt counted), not waited for.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from app.common.tasks import QueueUnavailable, task_send
from app.observability import context as observability_context
from app.recommendations.models import RecommendationRequest
from app.webhooks import receivers, sending
from app.webhooks.models import CallbackSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint, secret_generate
from app.webhooks.ssrf import CheckedURL, UnsafeURL, url_check
from workers import names

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

EVENT_REQUEST_FINISHED = "recommendation_request.finished"
MAX_ENDPOINTS_PER_ACCOUNT = 10
# A running attempt holds its delivery this long: longer than the task's hard time limit, so
# a live attempt is never claimed twice, and one whose worker died is swept up afterwards.
CLAIM_LEASE = timedelta(seconds=120)
# Retries further away than this get no countdown message; the sweeper sends them when due.
# Redis hands an ETA message that waits past the visibility timeout to a second worker, and
# every waiting ETA message sits in a worker's memory.
MAX_COUNTDOWN_SECONDS = 15 * 60
# The sweeper leaves alone what a countdown message is about to pick up.
SWEEP_GRACE = timedelta(seconds=30)
# A message out this long and still not consumed is taken for lost (Redis lost its data, say)
# and sent again. Longer than any countdown (MAX_COUNTDOWN_SECONDS) and than a backlog the
# workers should ever have: under a longer one, each delivery gets one more message (a no-op).
REQUEUE_AFTER = timedelta(minutes=30)
# Fixed, so a message id derived from (event, request, target) is the same in every process.
_MSG_ID_NAMESPACE = uuid.UUID("6f1f0a52-8a4e-4c0b-9a55-3c1b5bde9d1e")


# Endpoints and secrets ---------------------------------------------------------------------


def webhook_endpoint_create(*, owner, url: str, description: str = "") -> WebhookEndpoint:
    with transaction.atomic():
        # Lock the owner's row so two concurrent registrations cannot both pass the cap.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        if WebhookEndpoint.objects.filter(owner=owner).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
            raise ValidationError(
                f"An account can register at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints; "
                "delete one before adding another."
            )
        return WebhookEndpoint.objects.create(owner=owner, url=url, description=description)


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    # Its pending deliveries go with it (cascade): a deleted endpoint receives nothing more.
    endpoint.delete()


def callback_secret_get_or_create(*, user_id: int) -> CallbackSecret:
    return CallbackSecret.objects.get_or_create(user_id=user_id)[0]


def callback_secret_rotate(*, user_id: int) -> CallbackSecret:
    secret, _ = CallbackSecret.objects.update_or_create(
        user_id=user_id, defaults={"secret": secret_generate(), "rotated_at": timezone.now()}
    )
    return secret


# Deliveries --------------------------------------------------------------------------------


def _msg_id(event_type: str, request_id: uuid.UUID, target: str) -> str:
    return "msg_" + uuid.uuid5(_MSG_ID_NAMESPACE, f"{event_type}:{request_id}:{target}").hex


def _enqueue(delivery_id: int, countdown: float | None = None) -> None:
    """Send the delivery's message; its row already says one is out (`enqueued_at`)."""
    try:
        task_send(names.WEBHOOK_DELIVER, args=[delivery_id], countdown=countdown, ignore_result=True)
    except QueueUnavailable:
        # None is out after all: the sweeper sends it when the broker takes messages again.
        WebhookDelivery.objects.filter(pk=delivery_id).update(enqueued_at=None)
        raise


def webhook_deliveries_create_for_request(
    *, request: RecommendationRequest, has_endpoints: bool | None = None
) -> list[int]:
    """Create the deliveries of a finished request, once, and enqueue them after commit.

    Called at the end of the recommendation task: it never raises into it. Returns the ids
    enqueued (a second call enqueues the ones still due; their claim makes that harmless).
    `has_endpoints`: whether the requester has active endpoints, when the caller already
    knows (the task reads it with its claim); None: look them up.
    """
    if has_endpoints is False and not request.callback_url:
        return []
    try:
        return _deliveries_create(request)
    except Exception:
        logger.exception("could not create the webhook deliveries of request %s", request.pk)
        return []


def _deliveries_create(req: RecommendationRequest) -> list[int]:
    # Imported here: the recommendations services import this module.
    from app.recommendations.results import request_payload

    if not req.is_finished:
        return []
    targets: list[tuple[WebhookEndpoint | None, str]] = [(None, req.callback_url)] if req.callback_url else []
    targets += [(ep, ep.url) for ep in WebhookEndpoint.objects.filter(owner_id=req.requested_by_id, is_active=True)]
    if not targets:
        return []
    now = timezone.now()
    payload = {
        "type": EVENT_REQUEST_FINISHED,
        "timestamp": (req.finished_at or now).isoformat(),
        "data": request_payload(req),
    }
    rows = [
        WebhookDelivery(
            endpoint=ep,
            request=req,
            url=url,
            event_type=EVENT_REQUEST_FINISHED,
            payload=payload,
            next_attempt_at=now,
            enqueued_at=now,
            msg_id=_msg_id(EVENT_REQUEST_FINISHED, req.pk, f"endpoint:{ep.pk}" if ep else "callback"),
        )
        for ep, url in targets
    ]
    return _deliveries_insert(rows, now)


def webhook_alert_send(*, event: str, data: dict, key: str) -> list[int]:
    """Send an operators' alert (e.g. `model.degraded`) to every active operator's active endpoints.

    Signed and retried like every delivery. `key` names the occurrence: a second call with the
    same key sends nothing new. Returns the ids enqueued.
    """
    from app.accounts.models import User

    endpoints = WebhookEndpoint.objects.filter(is_active=True, owner__is_active=True).filter(
        Q(owner__role=User.Role.OPERATOR) | Q(owner__is_superuser=True)
    )
    now = timezone.now()
    payload = {"type": event, "timestamp": now.isoformat(), "data": data}
    rows = [
        WebhookDelivery(
            endpoint=ep,
            request=None,
            url=ep.url,
            event_type=event,
            payload=payload,
            next_attempt_at=now,
            enqueued_at=now,
            msg_id="msg_" + uuid.uuid5(_MSG_ID_NAMESPACE, f"{event}:{key}:endpoint:{ep.pk}").hex,
        )
        for ep in endpoints
    ]
    return _deliveries_insert(rows, now) if rows else []


def _deliveries_insert(rows: list[WebhookDelivery], now) -> list[int]:
    """Insert the deliveries not created yet; enqueue after commit the new ones and those due with no message out."""
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        mine = WebhookDelivery.objects.filter(
            msg_id__in=[r.msg_id for r in rows], status=Status.PENDING, next_attempt_at__lte=now
        )
        due = list(mine.filter(Q(enqueued_at=now) | Q(enqueued_at__isnull=True)).values_list("pk", flat=True))
        mine.filter(pk__in=due, enqueued_at__isnull=True).update(enqueued_at=now)
        for pk in due:
            # robust: a broker outage must not fail the caller; the sweeper sends it later.
            transaction.on_commit(partial(_enqueue, pk), robust=True)
    return due


def _send(delivery: WebhookDelivery, checked: CheckedURL, started: float) -> sending.SendResult:
    """Sign and POST to the checked address; the duration counts from `started` (the check included)."""
    if delivery.endpoint is not None:
        secret = delivery.endpoint.secret
    else:
        secret = callback_secret_get_or_create(user_id=delivery.request.requested_by_id).secret
    body = sending.body_encode(delivery.payload)
    headers = sending.signed_headers(secret=secret, msg_id=delivery.msg_id, body=body)
    if request_id := observability_context.request_id.get():
        # The id of the API request this delivery answers (carried through the tasks' headers),
        # so the receiver's logs and ours can be matched. Not signed: informational only.
        headers[observability_context.HEADER] = request_id
    result = sending.post(
        checked, body, headers, timeout=settings.WEBHOOK_TIMEOUT, connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT
    )
    return sending.SendResult(result.status_code, result.error, int((time.monotonic() - started) * 1000))


def _retry_delay(attempts: int) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones, or None to give up.

    Full jitter (a uniform draw below the step) spreads the retries of many deliveries that
    failed together, so a receiver coming back up is not hit by all of them at once.
    """
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    return random.uniform(0, float(schedule[attempts - 1]))


def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery, if its receiver admits it; record it; decide what comes next. Idempotent."""
    now = timezone.now()
    # Conditions on the row's own columns only: with a join, Django turns the UPDATE into
    # `WHERE id IN (subquery)`, which PostgreSQL does not re-check after waiting for a lock.
    # The message that was out is consumed: none is out any more (`enqueued_at`).
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now).update(
        attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE, enqueued_at=None
    )
    if not claimed:
        return "skipped"  # not due, or no longer pending: a redelivered or duplicate message

    delivery = WebhookDelivery.objects.select_related("endpoint", "request").get(pk=delivery_id)
    mine = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING)
    if delivery.endpoint is not None and not delivery.endpoint.is_active:
        mine.update(status=Status.DISABLED, next_attempt_at=None, attempts=F("attempts") - 1)  # nothing was sent
        return Status.DISABLED
    started = time.monotonic()
    try:
        checked = url_check(delivery.url)  # again at send time: DNS may have changed since
    except UnsafeURL as exc:
        result = sending.SendResult(None, f"refused: {exc}", int((time.monotonic() - started) * 1000))
        return _outcome_record(delivery, mine, now, result)
    origin = receivers.receiver_origin(delivery.url)
    admission = receivers.receiver_admit(origin)
    if not admission.admitted:
        return _defer(delivery, mine, admission)
    result = None
    try:
        result = _send(delivery, checked, started)
    finally:
        answered = result is not None and result.status_code is not None
        receivers.receiver_release(origin, admission, answered=answered, error=result.error if result else "")
    return _outcome_record(delivery, mine, now, result)


def _defer(delivery: WebhookDelivery, mine, admission: receivers.Admission) -> str:
    """Put a claimed delivery back, due when its receiver may admit it: no attempt made, none counted.

    Behind a breaker that stays open a delivery would wait for ever (only probes count attempts):
    once it is older than the whole retry schedule, it fails as the schedule would have failed it.
    """
    now = timezone.now()
    if delivery.created_at + timedelta(seconds=sum(settings.WEBHOOK_RETRY_SCHEDULE)) < now:
        with transaction.atomic():
            WebhookAttempt.objects.create(
                delivery=delivery,
                attempted_at=now,
                error=f"not sent: its receiver was not admitting deliveries ({admission.reason}) past the retry schedule",
            )
            mine.update(status=Status.FAILED, next_attempt_at=None, attempts=F("attempts") - 1)
        return Status.FAILED
    countdown = admission.wait if admission.wait <= MAX_COUNTDOWN_SECONDS else None
    mine.update(
        attempts=F("attempts") - 1,
        next_attempt_at=now + timedelta(seconds=admission.wait),
        enqueued_at=now if countdown is not None else None,
    )
    if countdown is not None:
        try:
            _enqueue(delivery.pk, countdown=countdown)
        except QueueUnavailable:
            logger.warning("broker unavailable: a deferred webhook delivery waits for the sweeper")
    return f"deferred ({admission.reason})"


def _outcome_record(delivery: WebhookDelivery, mine, now, result: sending.SendResult) -> str:
    """Record the attempt and decide: delivered, disabled (410), failed (out of retries) or retrying."""
    code = result.status_code
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, attempted_at=now, status_code=code, error=result.error, duration_ms=result.duration_ms
        )
        if code is not None and 200 <= code < 300:
            mine.update(status=Status.DELIVERED, delivered_at=timezone.now(), next_attempt_at=None)
            return Status.DELIVERED
        if code == 410:
            mine.update(status=Status.DISABLED, next_attempt_at=None)
            if delivery.endpoint_id:
                WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
                    is_active=False,
                    disabled_reason=f"It answered 410 Gone on {timezone.now():%Y-%m-%d %H:%M} UTC; register it again to resume.",
                )
            return Status.DISABLED
        delay = _retry_delay(delivery.attempts)
        if delay is None:
            mine.update(status=Status.FAILED, next_attempt_at=None)
            return Status.FAILED
        countdown = delay <= MAX_COUNTDOWN_SECONDS
        mine.update(
            next_attempt_at=timezone.now() + timedelta(seconds=delay), enqueued_at=timezone.now() if countdown else None
        )
        if countdown:
            transaction.on_commit(partial(_enqueue, delivery.pk, countdown=delay), robust=True)
    return "retrying"


def webhook_deliveries_sweep(*, limit: int = 500) -> int:
    """Enqueue pending deliveries that are due and have no message out (or one out so long it is lost).

    Each is claimed first (a conditional UPDATE of `enqueued_at`), so a backlog the workers have
    not reached yet is not sent again, and two sweeps at once send each delivery once. Returns
    how many were sent.
    """
    now = timezone.now()
    unsent = Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=now - REQUEUE_AFTER)
    due = WebhookDelivery.objects.filter(unsent, status=Status.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    sent = 0
    for pk in ids:
        if not due.filter(pk=pk).update(enqueued_at=now):
            continue  # sent meanwhile: by another sweep, a retry, or an attempt that took it
        try:
            _enqueue(pk)
        except QueueUnavailable:
            logger.warning("broker unavailable: the webhook sweep stops after %d", sent)
            break
        sent += 1
    return sent
