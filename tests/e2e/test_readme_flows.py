"""The README's flows, run exactly as written against a live gunicorn and a real worker.

The shell blocks marked `<!-- flow:NAME -->` are extracted from README.md and run with bash
(`set -euo pipefail`, so any failing command fails the flow); the test sets only the variables
the blocks themselves read: `API` and the credentials.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from app.accounts.models import User
from app.marketplace.models import CleanerProfile, CleaningJob, ClientProfile, Review
from tests import factories as f
from tests.support import ROOT
from tests.support.live import live_web

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

FLOW = re.compile(r"<!-- flow:(?P<name>[\w-]+) -->\n```sh\n(?P<code>.*?)```", re.DOTALL)


def flow_blocks(name: str) -> list[str]:
    blocks = [m["code"] for m in FLOW.finditer((ROOT / "README.md").read_text()) if m["name"] == name]
    assert blocks, f"README.md has no block marked <!-- flow:{name} --> before a ```sh block"
    return blocks


def run_flow(name: str, env: dict[str, str]) -> str:
    """The blocks run from the checkout (`python manage.py …`); nothing they write may land there."""
    before = set(ROOT.iterdir())
    script = "set -euo pipefail\n" + "\n".join(flow_blocks(name))
    env = {**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"the {name} flow failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert set(ROOT.iterdir()) == before, "the flow left files in the checkout"
    return done.stdout


def _password_set(user: User, password: str) -> None:
    # With the production settings' hasher: the tests' own (MD5, for speed) is not one the live web accepts.
    user.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])


def test_the_client_flow_runs_as_written(celery_worker, worker_env, tmp_path) -> None:
    someone_else = f.job()  # another client's job: the flow must not pick it
    client = f.client()
    _password_set(client.user, "client-pw")
    f.job(owner=client, status=CleaningJob.Status.COMPLETED)
    job = f.job(owner=client)
    cleaner = f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)

    with live_web(worker_env, tmp_path) as web:
        env = {
            **worker_env,
            "API": f"http://127.0.0.1:{web.port}/api/v1",
            "CLIENT_USER": client.user.username,
            "CLIENT_PASSWORD": "client-pw",
        }
        out = run_flow("client", env)

    assert f'"job_id":{job.pk}' in out.replace(" ", "") and someone_else.pk != job.pk
    assert f'"cleaner_id":{cleaner.pk}' in out.replace(" ", "")
    assert '"accepted":1' in out.replace(" ", "")


def test_the_integration_flow_runs_as_written(celery_worker, worker_env, tmp_path) -> None:
    operator = f.operator()
    _password_set(operator, "operator-pw")

    with live_web(worker_env, tmp_path) as web:
        env = {
            **worker_env,
            "API": f"http://127.0.0.1:{web.port}/api/v1",
            "OPERATOR_USER": operator.username,
            "OPERATOR_PASSWORD": "operator-pw",
        }
        out = run_flow("integration", env)

    compact = out.replace(" ", "")
    assert '"status":"succeeded"' in compact and '"cleaner_external_id":"cleaner-ana"' in compact, out
    assert '"counts":{"created":1,"updated":1}' in compact, out
    assert "204" in out.splitlines()
    # The client is gone; the job, the bid and the review stay as the cleaner's history.
    assert not ClientProfile.objects.filter(external_id="client-bo").exists()
    assert not User.objects.filter(username="client.client-bo").exists()
    job = CleaningJob.objects.get(external_id="job-1001")
    assert (job.client_id, job.status, job.assigned_cleaner.external_id) == (None, "completed", "cleaner-ana")
    assert Review.objects.get(external_id="review-1").rating == 9
    # The import of the export changed nothing, and said so.
    assert re.search(r"^cleaner\s+0\s+0\s+2\s+0\s+0$", out, re.MULTILINE), out
    assert CleanerProfile.objects.filter(external_id__in=["cleaner-ana", "cleaner-cy"]).count() == 2
