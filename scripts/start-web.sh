#!/bin/sh
# The web process: gunicorn serving config.wsgi.
#
# gthread with many threads because `GET ...?wait=N` long-polls hold a thread for up to 30 s;
# the graceful timeout lets those finish on SIGTERM. Migrations run here only when
# RUN_MIGRATIONS=1: with several web replicas, a one-shot `migrate` service is the safer place.
set -eu
cd "$(dirname "$0")/.."

if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    python manage.py migrate --noinput
fi
python manage.py collectstatic --noinput
# The checks that need the database, e.g. no account still opens with the demo password where
# ALLOW_DEMO_ACCOUNTS is off (production): refuse to start rather than serve with one.
python manage.py check --database default --fail-level ERROR

# gunicorn's workers are separate processes: each writes its metrics to files here and /metrics
# adds them up (app/observability/metrics.py). Emptied first: a previous run's counts would add up.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/recsvc-web-metrics}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete

# gunicorn's workers touch a heartbeat file on every request: on tmpfs that costs nothing
# (gunicorn's advice for containers, whose /tmp is often on overlayfs).
set --
if [ -d /dev/shm ]; then
    set -- --worker-tmp-dir /dev/shm
fi

# The access log is the one line every request gets (Django logs only 5xx on top): gunicorn's
# default format plus the request id, which the answer carries in X-Request-ID.
ACCESS_LOG_FORMAT='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'

# --max-requests: each web process is replaced after this many requests (a guard against slow
# leaks; `make soak` measures none). At 5000, `make bench`'s throughput runs (about 1000
# requests/s) replaced a process every few seconds, each replacement a second of CPU for
# Django's start: 100,000 is a replacement every minute or two at that rate.
# WEB_BIND: where to listen (host:port); every interface on 8000 by default, as the images expose.
exec gunicorn config.wsgi:application \
    --bind "${WEB_BIND:-0.0.0.0:8000}" \
    "$@" \
    --worker-class gthread \
    --workers "${WEB_WORKERS:-2}" \
    --threads "${WEB_THREADS:-32}" \
    --timeout 60 \
    --graceful-timeout 30 \
    --max-requests "${WEB_MAX_REQUESTS:-100000}" \
    --max-requests-jitter "${WEB_MAX_REQUESTS_JITTER:-10000}" \
    --access-logfile - \
    --access-logformat "$ACCESS_LOG_FORMAT"
