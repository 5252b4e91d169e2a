#!/bin/sh
# A Celery worker for short tasks. Training has its own process (start-trainer.sh) so a
# retrain never holds a slot that a recommendation request is waiting for.
#
# Webhook deliveries have their own worker too, and are not in the default queues: an attempt
# waits up to WEBHOOK_TIMEOUT on somebody else's server, and in a shared pool a few hung
# receivers would hold every slot that recommendations need. Run one beside this worker:
#   WORKER_QUEUES=webhooks WORKER_POOL=threads WORKER_CONCURRENCY=8 WORKER_NAME=webhooks scripts/start-worker.sh
# (a thread pool: the work is waiting, and one process holds it all; it loads no model).
#
# Prefetch 1 and `-O fair` hand a task only to an idle child, so one slow task does not
# delay the messages queued behind it.
set -eu
cd "$(dirname "$0")/.."

queues="${WORKER_QUEUES:-recommendations,feedback,maintenance}"
case ",$queues," in
*,recommendations,*webhooks* | *,webhooks,*recommendations*)
    echo "start-worker.sh: WORKER_QUEUES=$queues puts webhook deliveries in front of recommendations;" \
        "run a webhooks worker of its own instead" >&2
    ;;
esac

# Recommendations need processes: each holds its own in-memory cleaner table, which its catch-ups
# change in place (workers/recommend/cleaner_table.py); threads would share and race on it.
case "${WORKER_POOL:-prefork},$queues," in
threads,*recommendations,* | eventlet,*recommendations,* | gevent,*recommendations,*)
    echo "start-worker.sh: WORKER_POOL=$WORKER_POOL cannot run the recommendations queue;" \
        "use prefork (the default) or solo" >&2
    exit 2
    ;;
esac

exec celery -A workers.celery worker \
    --loglevel=INFO \
    --queues="$queues" \
    --pool="${WORKER_POOL:-prefork}" \
    --concurrency="${WORKER_CONCURRENCY:-2}" \
    --prefetch-multiplier=1 \
    -O fair \
    --hostname="${WORKER_NAME:-worker}@%h"
