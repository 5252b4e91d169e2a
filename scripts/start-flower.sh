#!/bin/sh
# Flower, the Celery monitor. It has no authentication by default and its control endpoints
# can shut workers down, so it refuses to start without basic auth.
#
# Flower drops options it does not know without a word: the names below are Flower 2.2's
# (`--basic-auth`, `--url_prefix`); check them against `celery flower --help` when upgrading.
set -eu
cd "$(dirname "$0")/.."

case "${FLOWER_BASIC_AUTH:-}" in
    ?*:?*) ;;
    *)
        echo "start-flower.sh: FLOWER_BASIC_AUTH must be set to user:password" \
            "(comma-separate several); Flower would otherwise run without authentication." >&2
        exit 1
        ;;
esac

# --conf: puts every Flower path behind the basic auth, /metrics and /healthcheck included
# (config/flower.py says how).
exec celery -A workers.celery flower \
    --conf=config/flower.py \
    --port=5555 \
    --address=0.0.0.0 \
    --basic-auth="$FLOWER_BASIC_AUTH" \
    --url_prefix="${FLOWER_URL_PREFIX:-}"
