"""Webhook tasks: one attempt at one delivery, and the sweeper that re-sends what is due.

Both only call services; `webhook_delivery_attempt` claims its delivery with a conditional
UPDATE, so a redelivered message, or the sweeper and a countdown message racing, send once,
and asks its receiver for a slot first, so a hung receiver holds a few slots at most.

They run on a worker of their own (queue `webhooks`, a thread pool: the work is waiting on
other people's servers), never in front of recommendations (scripts/start-worker.sh). A
thread pool enforces no time limit: the attempt's own deadline (WEBHOOK_TIMEOUT) bounds it.
"""

from __future__ import annotations

from celery import shared_task

from workers import names


# The attempt itself is bounded by WEBHOOK_TIMEOUT (10 s); the limits are a backstop under a
# prefork pool and must stay below services.CLAIM_LEASE.
@shared_task(name=names.WEBHOOK_DELIVER, soft_time_limit=30, time_limit=60, acks_late=True)
def deliver(delivery_id: int) -> str:
    from app.webhooks.services import webhook_delivery_attempt

    return webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name=names.WEBHOOK_SWEEP, soft_time_limit=60, time_limit=120)
def sweep() -> int:
    from app.webhooks.services import webhook_deliveries_sweep

    return webhook_deliveries_sweep()
