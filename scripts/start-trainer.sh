#!/bin/sh
# The training worker: the `training` queue only, one task at a time.
#
# --max-tasks-per-child=1 gives every retrain a fresh child process, so the memory torch
# holds after training goes back to the system instead of staying with an idle process.
set -eu
cd "$(dirname "$0")/.."

exec celery -A workers.celery worker \
    --loglevel=INFO \
    --queues=training \
    --concurrency=1 \
    --max-tasks-per-child=1 \
    --prefetch-multiplier=1 \
    --hostname="${TRAINER_NAME:-trainer}@%h"
