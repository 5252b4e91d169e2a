#!/bin/sh
# The Celery worker for short tasks. Training has its own process (start-trainer.sh) so a
# retrain never holds a slot that a recommendation request is waiting for.
#
# Prefetch 1 and `-O fair` hand a task only to an idle child, so one slow task does not
# delay the messages queued behind it.
set -eu
cd "$(dirname "$0")/.."

exec celery -A workers.celery worker \
    --loglevel=INFO \
    --queues="${WORKER_QUEUES:-recommendations,feedback,webhooks,maintenance}" \
    --concurrency="${WORKER_CONCURRENCY:-2}" \
    --prefetch-multiplier=1 \
    -O fair \
    --hostname="${WORKER_NAME:-worker}@%h"
