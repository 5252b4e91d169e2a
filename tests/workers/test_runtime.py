"""Which worker processes load the engine when they start."""

from types import SimpleNamespace

import pytest
from celery import Celery

from workers.runtime import computes_recommendations


def _worker(queues: list[str] | None) -> SimpleNamespace:
    app = Celery("probe", set_as_current=False)
    app.conf.task_default_queue = "recommendations"
    if queues:
        app.amqp.queues.select(queues)
    return SimpleNamespace(app=app)


@pytest.mark.parametrize(
    ("queues", "warms"),
    [
        (None, True),  # no -Q: the default queue, recommendations
        (["recommendations", "feedback", "maintenance"], True),
        (["webhooks"], False),
        (["training"], False),
    ],
)
def test_only_a_worker_of_the_recommendations_queue_loads_the_engine(queues, warms) -> None:
    assert computes_recommendations(_worker(queues)) is warms


def test_a_worker_process_freezes_what_its_warm_up_loaded(monkeypatch) -> None:
    import gc

    from workers import runtime

    monkeypatch.setattr(runtime, "warm_up", lambda: None)
    gc.unfreeze()
    try:
        runtime._on_worker_process_init()

        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
