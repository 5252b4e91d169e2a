"""Per-process state of a worker: one engine, with its model loaded when the process starts.

Celery's `worker_process_init` fires in every pool child before it takes a task, so the first
request is as fast as the next ones: torch is imported, the model loaded and warmed up there.
"""

from __future__ import annotations

import gc
import logging

from celery.signals import task_prerun, worker_init, worker_process_init

logger = logging.getLogger(__name__)

_engine = None


def get_engine():
    """This process's engine, on the active model version (hot reload).

    Every task checks the ACTIVE pointer (a stat, and a read only when it changed), so a
    task never computes with a model that is no longer active and caches the answer under the
    new model's generation. The old model serves until the new one is loaded and verified;
    a bad file keeps the old one.
    """
    global _engine
    if _engine is None:
        from workers.recommend.engine import RecommendationEngine

        _engine = RecommendationEngine()
    else:
        _engine.refresh_model()
    return _engine


def _limit_threads() -> None:
    try:
        import torch
    except ImportError:
        return
    # One thread per process: a second gains nothing at this size and hurts tail latency
    # when processes share the cores.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def warm_up() -> None:
    _limit_threads()
    engine = get_engine()
    engine.refresh_model()
    if engine.nn_model is not None:
        # One prediction so the first real request does not pay for lazy initialisation.
        import numpy as np

        from workers.ml.hybrid import InteractionArrays, predict
        from workers.recommend.features import CLEANER_FEATURES, CLIENT_FEATURES, PAIR_FEATURES

        n = 200
        predict(
            engine.nn_model,
            InteractionArrays(
                client_ids=np.zeros(n, np.int64),
                cleaner_ids=np.arange(n, dtype=np.int64),
                client_features=np.zeros((n, len(CLIENT_FEATURES)), np.float32),
                cleaner_features=np.zeros((n, len(CLEANER_FEATURES)), np.float32),
                pair_features=np.zeros((n, len(PAIR_FEATURES)), np.float32),
            ),
        )
    _warm_request_path(engine)
    logger.info("worker process ready: mode %s, model %s", engine.mode, engine.model_manager.version or "none")


def _warm_request_path(engine) -> None:
    """Open the database connection, load the cleaner table and score one open job (no writes)."""
    from app.marketplace.models import CleaningJob
    from workers.recommend import runner
    from workers.recommend.cleaner_table import cleaner_table

    cleaner_table.get()
    job = CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).order_by("-pk").first()
    if job is not None:
        engine.score_cleaners_for_job(job, 10)
    # The request path's own statements, on rows that do not exist: nothing changes.
    runner.recommendation_request_run(request_id="00000000-0000-0000-0000-000000000000", engine=engine)
    from app.common.redis_client import client

    client().ping()  # the connection the answer is published on


def computes_recommendations(worker) -> bool:
    """Whether this worker consumes the recommendations queue (all queues when none was chosen)."""
    from workers.names import Queue

    chosen = worker.app.amqp.queues.consume_from
    return not chosen or Queue.RECOMMENDATIONS in chosen


@worker_init.connect
def _register_warm_up(sender=None, **kwargs) -> None:
    # Connected from worker_init so that it runs after Celery's Django fixup, whose own
    # worker_process_init handler closes every database connection: connected earlier, the
    # warm-up's connection would be closed again and the first request would open one.
    # A worker for other queues only (webhooks, say) needs no engine, model or cleaner table.
    if sender is not None and not computes_recommendations(sender):
        logger.info("not warming up: this worker does not consume the recommendations queue")
        return
    worker_process_init.connect(_on_worker_process_init, weak=False)


def _on_worker_process_init(**kwargs) -> None:
    try:
        warm_up()
    except Exception:  # never keep a worker from starting: requests fall back to rule-based
        logger.exception("warm-up failed")
    # What the warm-up loaded (torch, the model, Django) lives as long as the process: out of
    # the garbage collector's sight, a full collection no longer walks it (over 100 ms here).
    # Collected first, so that the warm-up's garbage is not kept for the process's life.
    gc.collect()
    gc.freeze()


@task_prerun.connect
def _drop_unusable_connections(**kwargs) -> None:
    # With CELERY_DB_REUSE_MAX the fixup keeps connections open between tasks; as Django does
    # between requests, close the ones past CONN_MAX_AGE or broken by an error.
    from django.db import close_old_connections

    close_old_connections()
