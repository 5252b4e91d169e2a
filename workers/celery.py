"""The Celery app, shared by the web (which only sends tasks by name) and the worker.

Importing this module imports no task and no ML code: the worker loads `workers.tasks` through
`include`, which only the worker process imports at start.
"""

import os

from celery import Celery

from workers.broker import use_for_redis_urls
from workers.names import TASK_QUEUES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
use_for_redis_urls()

app = Celery("recsvc", include=["workers.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {name: {"queue": str(queue)} for name, queue in TASK_QUEUES.items()}
