"""The Celery and database settings that reliability depends on, as the worker reads them."""

from django.conf import settings

from workers.celery import app


def test_a_new_pool_process_has_time_for_its_warm_up() -> None:
    # The warm-up imports torch and loads the model: seconds on a loaded host; Celery's default is 4.
    assert app.conf.worker_proc_alive_timeout >= 30


def test_tasks_are_acknowledged_late_and_rejected_when_their_worker_dies() -> None:
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"] and app.conf.task_serializer == "json"


def test_the_visibility_timeout_is_above_the_longest_time_limit() -> None:
    app.loader.import_default_modules()  # the worker's tasks, as a worker loads them
    longest = max(task.time_limit or 0 for name, task in app.tasks.items() if not name.startswith("celery."))
    assert longest >= 3600  # the retrain's
    assert app.conf.broker_transport_options["visibility_timeout"] > longest


def test_a_kept_database_connection_is_checked_before_reuse() -> None:
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
