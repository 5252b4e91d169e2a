"""The Celery and database settings that reliability depends on, as the worker reads them.

Each check reads a configuration (what `app.conf` holds, the worker's tasks, Django's settings)
and says what is wrong with it. The real one must pass; a copy with the setting broken must
fail, so that no check passes whatever the settings say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings

from workers import names
from workers.celery import app

Config = dict[str, Any]


def real_config() -> Config:
    """What the checks read, taken from the worker's own configuration."""
    app.loader.import_default_modules()  # the worker's tasks, as a worker loads them
    tasks = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    return {
        "conf": {key: app.conf[key] for key in CONF_KEYS},
        "tasks": tasks,
        "sweep_running_after": settings.RECOMMENDATION_SWEEP_RUNNING_AFTER,
        "conn_health_checks": settings.DATABASES["default"]["CONN_HEALTH_CHECKS"],
        "db_engine": settings.DATABASES["default"]["ENGINE"],
        "db_options": settings.DATABASES["default"].get("OPTIONS", {}),
    }


CONF_KEYS = (
    "worker_proc_alive_timeout",
    "task_acks_late",
    "task_reject_on_worker_lost",
    "worker_prefetch_multiplier",
    "accept_content",
    "result_accept_content",
    "task_serializer",
    "result_serializer",
    "event_serializer",
    "broker_transport_options",
    "result_backend_transport_options",
)


def warm_up_fits(config: Config) -> str | None:
    # The warm-up imports torch and loads the model: seconds on a loaded host; Celery's default is 4.
    timeout = config["conf"]["worker_proc_alive_timeout"]
    return None if timeout >= 30 else f"worker_proc_alive_timeout is {timeout} s: a loaded host's warm-up takes longer"


def acks_late_everywhere(config: Config) -> str | None:
    conf = config["conf"]
    if not (conf["task_acks_late"] and conf["task_reject_on_worker_lost"]):
        return "tasks must be acknowledged late and rejected (so redelivered) when their worker dies"
    early = sorted(name for name, task in config["tasks"].items() if task.acks_late is False)
    return f"these tasks acknowledge before they run: {early}" if early else None


def prefetch_one(config: Config) -> str | None:
    multiplier = config["conf"]["worker_prefetch_multiplier"]
    return None if multiplier == 1 else f"worker_prefetch_multiplier is {multiplier}: a dying worker takes more with it"


def json_only(config: Config) -> str | None:
    conf = config["conf"]
    accepted = [conf["accept_content"], conf["result_accept_content"] or conf["accept_content"]]
    serializers = [conf["task_serializer"], conf["result_serializer"], conf["event_serializer"]]
    if accepted != [["json"], ["json"]] or set(serializers) != {"json"}:
        return f"JSON only, never pickle: accepts {accepted}, serializes with {serializers}"
    return None


def visibility_above_time_limits(config: Config) -> str | None:
    longest = max(task.time_limit or 0 for task in config["tasks"].values())
    if longest < 3600:
        return f"the longest time limit is {longest} s: the retrain's (3600 s) is missing"
    for key in ("broker_transport_options", "result_backend_transport_options"):
        timeout = config["conf"][key].get("visibility_timeout", 3600)
        if timeout <= longest:
            return f"{key} visibility_timeout {timeout} s <= {longest} s: Redis hands a running task to a second worker"
    return None


def sweep_waits_out_the_hard_limit(config: Config) -> str | None:
    limit = max(config["tasks"][name].time_limit for name in (names.RECOMMEND_CLEANERS, names.RECOMMEND_JOBS))
    after = config["sweep_running_after"]
    if after <= limit:
        return f"RECOMMENDATION_SWEEP_RUNNING_AFTER {after} s <= the hard limit {limit} s: a request still computing runs twice"
    return None


def connections_checked(config: Config) -> str | None:
    return None if config["conn_health_checks"] is True else "CONN_HEALTH_CHECKS must be on"


def dead_sessions_dropped(config: Config) -> str | None:
    # A worker host gone mid-transaction keeps its row locks until the server drops its session
    # (tests/e2e/test_two_worker_hosts.py): the server must probe each session, and soon.
    if config["db_engine"] != "django.db.backends.postgresql":
        return None
    asked = dict(re.findall(r"-c\s*(tcp_keepalives_\w+)=(\d+)", config["db_options"].get("options", "")))
    if set(asked) != {"tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"}:
        return f"PostgreSQL sessions must ask for TCP keepalives (DATABASE_SESSION_OPTIONS), not {asked}"
    dropped_after = int(asked["tcp_keepalives_idle"]) + int(asked["tcp_keepalives_interval"]) * int(
        asked["tcp_keepalives_count"]
    )
    if dropped_after >= settings.RECOMMENDATION_SWEEP_RUNNING_AFTER:
        return f"a dead session is dropped after {dropped_after} s: later than the sweeper reruns its request"
    return None


def _task(**attributes) -> SimpleNamespace:
    return SimpleNamespace(**{"acks_late": None, "time_limit": None, **attributes})


def _with_conf(**changes) -> Callable[[Config], Config]:
    return lambda config: {**config, "conf": {**config["conf"], **changes}}


def _with_task(name: str, task: SimpleNamespace) -> Callable[[Config], Config]:
    return lambda config: {**config, "tasks": {**config["tasks"], name: task}}


def _without_retrain(config: Config) -> Config:
    return {**config, "tasks": {n: t for n, t in config["tasks"].items() if n != names.RETRAIN}}


# Each check, and the broken settings it must refuse.
BROKEN: Mapping[Callable[[Config], str | None], list[Callable[[Config], Config]]] = {
    warm_up_fits: [_with_conf(worker_proc_alive_timeout=4.0)],
    acks_late_everywhere: [
        _with_conf(task_acks_late=False),
        _with_conf(task_reject_on_worker_lost=False),
        _with_task("an.early.task", _task(acks_late=False)),
    ],
    prefetch_one: [_with_conf(worker_prefetch_multiplier=4)],
    json_only: [
        _with_conf(accept_content=["json", "pickle"]),
        _with_conf(result_accept_content=["pickle"]),
        _with_conf(task_serializer="pickle"),
        _with_conf(result_serializer="pickle"),
    ],
    visibility_above_time_limits: [
        _with_conf(broker_transport_options={"visibility_timeout": 3600}),
        _with_conf(result_backend_transport_options={}),  # Redis's default: one hour
        _with_task("a.long.task", _task(time_limit=5 * 3600)),
        _without_retrain,
    ],
    sweep_waits_out_the_hard_limit: [lambda config: {**config, "sweep_running_after": 60}],
    connections_checked: [lambda config: {**config, "conn_health_checks": False}],
    dead_sessions_dropped: [
        lambda config: {**config, "db_engine": "django.db.backends.postgresql", "db_options": {}},
        lambda config: {
            **config,
            "db_engine": "django.db.backends.postgresql",
            "db_options": {
                "options": "-c tcp_keepalives_idle=7200 -c tcp_keepalives_interval=75 -c tcp_keepalives_count=9"
            },
        },
    ],
}


@pytest.mark.parametrize("check", BROKEN, ids=lambda check: check.__name__)
def test_the_worker_settings_pass(check) -> None:
    assert check(real_config()) is None


@pytest.mark.parametrize(
    ("check", "breaking"),
    [
        pytest.param(check, breaking, id=f"{check.__name__}-{i}")
        for check, changes in BROKEN.items()
        for i, breaking in enumerate(changes)
    ],
)
def test_each_check_refuses_broken_settings(check, breaking) -> None:
    assert check(breaking(real_config())) is not None
