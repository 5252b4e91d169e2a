"""Model files: the session's models directory, a small trained marketplace, registry helpers,
a trainer worker, and a clean pointer after each test.

The session's real worker (`celery_worker`) serves requests and checks files; the trainer is a
second real worker on the `training` queue, as in production. A test module that trains or
activates models uses `clean_pointers`, so that it leaves no Redis pointer, no ACTIVE file and
no retrain lock behind and the tests after it see rule-based.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.processes import PrivateQueueWorker


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's models are written; the workers the tests start read the same one."""
    return tmp_path_factory.mktemp("models")


def _clear_pointers(models_dir: Path) -> None:
    from app.common.redis_client import client
    from app.recommendations.model_pointer import ACTIVE_KEY, ACTIVE_POINTER
    from app.recommendations.registry import RETRAIN_LOCK_KEY

    client().delete(ACTIVE_KEY, RETRAIN_LOCK_KEY)
    (models_dir / ACTIVE_POINTER).unlink(missing_ok=True)


def _worker_forgets_the_model() -> None:
    """Make the session worker notice the cleared pointers now. Its next task unloads the model
    and bumps the cache generation, which must not happen in the middle of the next test."""
    from workers import names
    from workers.celery import app

    # Any recommendation task refreshes the engine first; this one then finds no such request.
    app.send_task(names.RECOMMEND_CLEANERS, args=[str(uuid.uuid4())])
    app.send_task(names.PING).get(timeout=20)  # behind it on the one-process worker


@pytest.fixture
def clean_pointers(request: pytest.FixtureRequest, models_dir: Path):
    _clear_pointers(models_dir)
    yield
    _clear_pointers(models_dir)
    if "celery_worker" in request.fixturenames:
        _worker_forgets_the_model()


@pytest.fixture
def marketplace(transactional_db) -> None:
    """400 jobs, 30 cleaners, 60 clients: trains in well under a second."""
    from app.recommendations.cleaner_scores import cleaner_scores_refresh
    from app.synthetic.generator import training_data_generate

    training_data_generate(jobs=400, cleaners=30, clients=60, seed=3)
    cleaner_scores_refresh()


def new_version(prefix: str = "lc") -> str:
    # The models directory is shared by the session and versions are immutable: fresh names.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def train(version: str | None = None, **kwargs):
    """Train and register a version (a candidate; `activate=True` to make it active)."""
    from workers.training.train import model_train

    kwargs.setdefault("activate", False)
    kwargs.setdefault("seed", 3)
    return model_train(version=version or new_version(), register=True, **kwargs)


def add_review() -> None:
    """One more completed, reviewed job: new data for the next retrain."""
    from app.marketplace.models import CleanerProfile
    from tests import factories as f

    f.completed_job(CleanerProfile.objects.order_by("pk").first(), rating=9)


@pytest.fixture(scope="module")
def trainer(worker_env: dict[str, str], models_dir: Path):
    """A real worker on the `training` queue, concurrency 1, as scripts/start-trainer.sh runs it."""
    from workers.celery import app

    # Retrains queued by earlier tests (the API fuzzer's, say) with no trainer to run them.
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("training")
    worker = PrivateQueueWorker(worker_env, "training")
    worker.start()
    yield worker
    worker.stop()  # waits for a retrain still running, which may activate its version...
    _clear_pointers(models_dir)  # ...so the tests after these still start from rule-based
