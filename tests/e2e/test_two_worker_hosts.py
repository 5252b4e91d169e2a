"""Two worker hosts: one goes away under load, and the other answers every accepted request.

Three test hosts on this machine (tests/support/netns.py): `hub` runs PostgreSQL, Redis (as the
production compose file configures it), the web (`scripts/start-web.sh`) and the one beat
(`scripts/start-beat.sh`); `w1` and `w2` each run a worker as `scripts/start-worker.sh` runs
it, named `worker@w1` and `worker@w2`, over the network to the hub. Recommendation requests go
to the web; in the middle of them `w1` is taken away: its pool hangs first (SIGSTOP, while it
writes a request's results, so that it surely holds messages and row locks when it goes), then
its link is cut and every process in it is killed. Every request answered 202, before and
after, must end `succeeded` within `RECOVERY_BOUND`, without duplicate rows.

What recovery rests on: the messages `w1` held (prefetched or running; late acks) stay in
Redis's unacked set until the visibility timeout (4 h, above the retrain's time limit), so the
request table is what brings them back: beat sends the request sweep every minute, to whichever
worker is left, and it re-enqueues what was queued longer than RECOMMENDATION_SWEEP_QUEUED_AFTER
or running longer than RECOMMENDATION_SWEEP_RUNNING_AFTER (30 s and 90 s in production; 5 s and
10 s here). So a lost request is answered at most a sweep interval plus the longer threshold
after the loss, plus the work queued before it. The test prints how long it took.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
import redis

from tests.support import ROOT, netns
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.slow]

QUEUED_AFTER, RUNNING_AFTER = 5, 10  # the sweeper's thresholds for this test (seconds)
SWEEP_EVERY = 60  # beat sends the request sweep every minute (setup_schedules)
# The sweep that finds the lost requests, then the queue in front of them on a shared machine. The
# lost host's PostgreSQL session (and its row locks) goes within about 30 s: before that sweep.
RECOVERY_BOUND = SWEEP_EVERY + RUNNING_AFTER + 60
# Requests sent while both hosts serve, then (the load goes on while the host hangs and goes), after.
WARM, AFTER = 40, 40
CLIENTS = 6
WORKDIR_PREFIX = "recsvc-hosts-"  # + the test process's pid: PostgreSQL's and Redis's files, the models


@dataclass
class Stack:
    hub: netns.Host
    workers: dict[str, tuple[netns.Host, subprocess.Popen]]
    postgres: netns.Postgres
    redis: netns.Redis
    logs: Path
    client: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        # The client's threads live in the hub's network, where the web listens.
        self.client = ThreadPoolExecutor(CLIENTS, initializer=self.hub.enter_thread)

    def call(self, fn: Callable, *args):
        return self.client.submit(fn, *args).result()

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(self.postgres.dsn())) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def log(self, label: str) -> str:
        return (self.logs / f"{label}.log").read_text(errors="replace")


def _service_env(network: str, postgres: netns.Postgres, redis_server: netns.Redis, models: Path) -> dict[str, str]:
    """Every process of the service, on every host: production settings and the hub's servers."""
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "HOME", "TZ")}
    return {
        **keep,
        "PATH": f"{Path(sys.executable).parent}:{os.defpath}",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "two-hosts-test-only-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": f"{network}.1,localhost",
        "DJANGO_SECURE_COOKIES": "false",
        "ALLOW_DEMO_ACCOUNTS": "1",  # generate_training_data's accounts open with "demo"
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_server.url,
        "RECOMMENDATION_MODELS_DIR": str(models),  # one directory: the shared volume of a real deployment
        "RECOMMENDATION_SWEEP_QUEUED_AFTER": str(QUEUED_AFTER),
        "RECOMMENDATION_SWEEP_RUNNING_AFTER": str(RUNNING_AFTER),
        "API_USER_RATE": "100000/min",
    }


def _http(method: str, url: str, *, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    """One request from a client thread (in the hub's network); no proxy, whatever the environment says."""
    host, _, path = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    try:
        connection.request(method, f"/{path}", body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data.startswith(b"{") else {}
    finally:
        connection.close()


def _worker_healthy(host: netns.Host, pid: int, env: dict[str, str]) -> bool:
    """The compose file's health check, run as Docker would: inside the worker's host, under its name."""
    check = ["nsenter", f"--target={pid}", "--net", "--uts", sys.executable, "-m", "scripts.healthcheck", "worker"]
    return subprocess.run(check, cwd=ROOT, env=env, capture_output=True, timeout=60).returncode == 0


@pytest.fixture
def stack() -> Iterator[Stack]:
    if (reason := netns.unavailable_reason()) is not None:
        pytest.skip(f"two worker hosts need network namespaces on this machine: {reason}")
    _remove_stale_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    # Kept after the run, beside the other test workers' logs (pytest's tmp_path is soon rotated away).
    logs = ROOT / "var" / f"test-hosts-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    network = netns.TestNetwork()
    postgres = stack = None
    try:
        hub, w1, w2 = (network.add_host(label) for label in ("hub", "w1", "w2"))
        postgres = netns.postgres_start(hub, workdir, network=f"{network.subnet}.0/24")
        redis_server = netns.redis_start(hub, workdir, log=logs / "redis.log")
        env = _service_env(network.subnet, postgres, redis_server, workdir / "models")
        stack = Stack(hub=hub, workers={}, postgres=postgres, redis=redis_server, logs=logs)
        _start_the_service(stack, [w1, w2], env, workdir)
        yield stack
    finally:
        if stack is not None:
            stack.client.shutdown(wait=True, cancel_futures=True)
        if postgres is not None:
            postgres.stop()
        network.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _start_the_service(stack: Stack, worker_hosts: list[netns.Host], env: dict[str, str], workdir: Path) -> None:
    """Migrate and seed, then the web and beat on the hub and a worker on each worker host, until healthy."""
    hub, logs = stack.hub, stack.logs
    hub.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, cwd=ROOT)
    seed = ["--jobs", "400", "--cleaners", "60", "--clients", "60", "--seed", "7"]
    hub.run([sys.executable, "manage.py", "generate_training_data", *seed], env=env, cwd=ROOT)
    web_env = {
        **env,
        "WEB_BIND": f"{hub.address}:8000",
        "WEB_WORKERS": "1",
        "WEB_THREADS": "16",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "XDG_RUNTIME_DIR": str(workdir),
    }
    hub.popen([str(ROOT / "scripts/start-web.sh")], env=web_env, log=logs / "web.log", cwd=ROOT)
    hub.popen([str(ROOT / "scripts/start-beat.sh")], env=env, log=logs / "beat.log", cwd=ROOT)
    worker_env = {**env, "WORKER_QUEUES": "recommendations,feedback,maintenance"}  # production's worker
    for host in worker_hosts:
        log = logs / f"{host.label}.log"
        stack.workers[host.label] = (
            host,
            host.popen([str(ROOT / "scripts/start-worker.sh")], env=worker_env, log=log, cwd=ROOT),
        )
    base = f"http://{hub.address}:8000"
    wait_until(lambda: _up(stack, base), timeout=90, what=f"the web on the hub (see {logs / 'web.log'})")
    for label, (host, proc) in stack.workers.items():
        wait_until(
            lambda host=host, proc=proc: proc.poll() is None and _worker_healthy(host, proc.pid, env),
            timeout=120,
            what=f"worker@{label} healthy (see {logs / f'{label}.log'})",
        )


def _remove_stale_workdirs() -> None:
    """The servers' directories of earlier runs killed before they cleaned up (their namespaces go too)."""
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = path.name.removeprefix(WORKDIR_PREFIX).partition("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _up(stack: Stack, base: str) -> bool:
    try:
        return stack.call(_http, "GET", f"{base}/healthz")[0] == 200
    except OSError:
        return False


def _ask(stack: Stack, token: str, questions: Iterator[tuple[int, int]], answers: Answers, *, until=None) -> None:
    """POST (job, limit) questions from every client thread, all of them or `until` that event is set."""
    base = f"http://{stack.hub.address}:8000/api/v1"
    lock = threading.Lock()

    def client() -> None:
        while until is None or not until.is_set():
            with lock:
                question = next(questions, None)
            if question is None:
                return
            job, limit = question
            status, body = _http("POST", f"{base}/jobs/{job}/recommendations/", token=token, body={"limit": limit})
            answers.statuses.append(status)
            if status == 202:
                answers.accepted.append(body["id"])

    for future in [stack.client.submit(client) for _ in range(CLIENTS)]:
        future.result()


@dataclass
class Answers:
    accepted: list[str] = field(default_factory=list)  # the ids of the requests answered 202
    statuses: list[int] = field(default_factory=list)


def _hang_holding_a_requests_locks(stack: Stack, host: netns.Host, main_pid: int) -> None:
    """SIGSTOP the pool of `host`'s worker while one of its processes is writing a request's results.

    Caught inside that transaction, after its rows were inserted: PostgreSQL keeps the row locks
    (the unique (request, rank) entries, the request's row), which a rerun of the request on
    another host must wait for. Its main process goes on taking messages up to its prefetch.
    """
    pool = [pid for pid in host.pids() if pid != main_pid]
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE client_addr = %s AND state = 'idle in transaction' "
        """AND (query LIKE 'INSERT INTO "recommendations_cleanerrecommendation"%%' """
        """OR query LIKE 'UPDATE "recommendations_recommendationrequest"%%')"""
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for pid in pool:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(0.02)  # a statement sent just before the stop completes on the server
        if stack.sql(query, (host.address,))[0][0]:
            return
        for pid in pool:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError(f"{host.label}'s pool was never caught writing a request's results")


def _unfinished(stack: Stack, ids: list[str]) -> list[tuple]:
    """(id, status, attempts, error) of the requests among `ids` that have not succeeded."""
    return stack.sql(
        "SELECT id::text, status, attempts, error FROM recommendations_recommendationrequest "
        "WHERE id::text = ANY(%s) AND status <> 'succeeded'",
        (ids,),
    )


def _served(stack: Stack, label: str) -> int:
    """Recommendation tasks the worker of `label` finished, from its log."""
    return len(re.findall(r"recommend_cleaners_for_job\[[0-9a-f-]+\] succeeded", stack.log(label)))


def _held_by_the_lost_host(stack: Stack, ids: list[str]) -> int:
    """Messages of these requests still unacknowledged once the other worker is idle: the lost worker's.

    kombu keeps each delivered, unacknowledged message in the `unacked` hash as
    [message, exchange, routing_key] until it is acknowledged or the visibility timeout restores it.
    """
    client = redis.Redis(unix_socket_path=str(stack.redis.socket))
    wait_until(lambda: client.llen("recommendations") == 0, what="the recommendations queue empty")
    time.sleep(1)  # the other worker's last messages acknowledged
    wanted = set(ids)
    return sum(json.loads(raw)[0]["headers"]["id"] in wanted for raw in client.hvals("unacked"))


def test_every_accepted_request_completes_when_a_worker_host_goes_away(stack: Stack) -> None:
    base = f"http://{stack.hub.address}:8000/api/v1"
    login = {"username": "operator", "password": "demo"}
    status, body = stack.call(lambda: _http("POST", f"{base}/auth/token/", body=login))
    assert status == 200, body
    token = body["token"]
    jobs = [row[0] for row in stack.sql("SELECT id FROM marketplace_cleaningjob WHERE status = 'open_for_bids'")]
    # Every question different (job, limit): none is answered from the cache, each is a task.
    questions = iter([(job, limit) for limit in range(1, 101) for job in jobs])
    answers = Answers()

    w1, w1_proc = stack.workers["w1"]
    _ask(stack, token, itertools.islice(questions, WARM), answers)
    wait_until(lambda: _served(stack, "w1") >= 1, timeout=60, what="w1 serving too")
    # Under load, w1 hangs while writing a request's results, takes what its prefetch allows, and
    # goes: its link first, then every process in it; the load goes on throughout, and after.
    stop = threading.Event()
    load = threading.Thread(target=_ask, args=(stack, token, questions, answers), kwargs={"until": stop})
    load.start()
    try:
        _hang_holding_a_requests_locks(stack, w1, w1_proc.pid)
        hung = len(answers.accepted)
        wait_until(lambda: len(answers.accepted) >= hung + 20, what="requests accepted while w1 hangs")
        cut_at = time.monotonic()
        w1.cut()
        w1.kill_all()
        assert w1_proc.wait(timeout=10) is not None and not w1.pids()
        wait_until(lambda: len(answers.accepted) >= hung + 60, what="requests accepted after the cut")
    finally:
        stop.set()
        load.join()
    _ask(stack, token, itertools.islice(questions, AFTER), answers)
    accepted, statuses = answers.accepted, answers.statuses

    assert set(statuses) == {202}, f"every question is new, so each is a 202: {sorted(set(statuses))}"
    try:
        wait_until(lambda: not _unfinished(stack, accepted), timeout=RECOVERY_BOUND, what="every request succeeded")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_unfinished(stack, accepted)}; logs in {stack.logs}") from None
    recovered_in = time.monotonic() - cut_at

    # What w1 held when it went: still unacknowledged in Redis, answered by w2 through the sweeper.
    stranded = _held_by_the_lost_host(stack, accepted)
    duplicates = stack.sql(
        "SELECT request_id, rank FROM recommendations_cleanerrecommendation GROUP BY request_id, rank HAVING count(*) > 1"
    )
    assert duplicates == [], "a request rerun on the other host must replace its rows, not add to them"
    print(
        f"\ntwo worker hosts: {len(accepted)} requests accepted; w1 hung holding a request's locks, then was cut "
        f"and killed, holding {stranded} messages; "
        f"every request succeeded {recovered_in:.1f} s after the cut (sweeper: queued after {QUEUED_AFTER} s, "
        f"running after {RUNNING_AFTER} s, every {SWEEP_EVERY} s; bound {RECOVERY_BOUND} s); "
        f"tasks served: w1 {_served(stack, 'w1')}, w2 {_served(stack, 'w2')}"
    )
    assert stranded >= 1, "w1 held no message when it went: its frozen pool should have kept what it took"
