"""The web process never imports torch or the worker's code, and its image does not ship them."""

import subprocess
import sys

from tests.support import ROOT

PROBE = r"""
import importlib, pkgutil, sys
import django
django.setup()
import config.urls
from django.urls import get_resolver
get_resolver().url_patterns
import app
for mod in pkgutil.walk_packages(app.__path__, "app."):
    if ".management.commands." in mod.name or mod.name.endswith(".tests"):
        continue
    importlib.import_module(mod.name)
# Sending a task by name must not load the task modules either.
from workers.celery import app as celery_app
celery_app.loader.import_default_modules  # noqa: B018 - attribute only, no call
heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "workers.ml", "workers.tasks")))
print("HEAVY=" + ",".join(heavy))
print("WORKER=" + ",".join(sorted(m for m in sys.modules if m == "workers" or m.startswith("workers."))))
"""


def test_it_serves_the_web_without_importing_torch() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert out.returncode == 0, out.stderr
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")][0]
    assert line == "HEAVY=", f"the web side imported {line[6:]}: keep torch and workers.ml out of app/ imports"
    loaded = set([x for x in out.stdout.splitlines() if x.startswith("WORKER=")][0][7:].split(","))
    assert loaded <= WEB_LOADS_FROM_WORKERS, (
        f"a web process loaded worker modules {sorted(loaded - WEB_LOADS_FROM_WORKERS)}"
    )


# The Celery app, its transport, the shared names and the app registering the worker's commands.
WEB_LOADS_FROM_WORKERS = {"workers", "workers.apps", "workers.broker", "workers.celery", "workers.names"}


def test_the_web_image_ships_no_model_code() -> None:
    copies = [
        line.split()[1] for line in (ROOT / "Dockerfile.web").read_text().splitlines() if line.startswith("COPY ")
    ]
    worker_parts = [c for c in copies if c.startswith("workers")]
    assert worker_parts, "the web image runs the webhooks worker: it needs the Celery app and the tasks"
    assert "workers/" not in worker_parts, "copy the parts of workers/ the web image runs, not all of it"
    assert not [c for c in worker_parts if c.startswith(("workers/ml", "workers/recommend", "workers/training"))]


def test_the_wsgi_module_loads_the_views_and_freezes_them_out_of_the_collectors_sight() -> None:
    probe = (
        "import gc, sys\n"
        "import config.wsgi\n"
        "print('VIEWS=' + str('app.recommendations.api.views' in sys.modules))\n"
        "print('FROZEN=' + str(gc.get_freeze_count()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert out.returncode == 0, out.stderr
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert lines["VIEWS"] == "True"
    assert int(lines["FROZEN"]) > 50_000  # the framework (about 110,000 objects), not a handful
