#!/bin/sh
# Celery beat: sends the periodic tasks stored by django-celery-beat.
#
# Run exactly one: two beat processes send every periodic task twice. `setup_schedules` is
# idempotent, so running it on every start keeps the stored schedules in step with the code.
# `--pidfile=` (empty) writes no pid file: the code directory is read-only in the image.
set -eu
cd "$(dirname "$0")/.."

python manage.py setup_schedules

exec celery -A workers.celery beat \
    --loglevel=INFO \
    --scheduler django_celery_beat.schedulers:DatabaseScheduler \
    --pidfile=
