"""The whole service on throwaway servers, for the fault tests (tests/faults/): break it, then check.

A session's PostgreSQL cluster (servers.ThrowawayPostgres) holds a template database, migrated
and seeded once (tests/support/fault_seed.py); each test's `Stack` gets a copy of it, a Redis of
its own, gunicorn started by scripts/start-web.sh and a worker started by
scripts/start-worker.sh (every queue, two children), and sends the two sweeps every
`SWEEP_EVERY` seconds as beat would every minute. `Traffic` sends recommendation requests and
feedback events from threads and records every answer; `Stack.check` asserts what a 202 promises.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

from tests.support import ROOT
from tests.support.live import live_web
from tests.support.servers import ThrowawayPostgres, ThrowawayRedis

TEMPLATE = "recsvc_faults_template"
SWEEP_EVERY = 2.0
# Events older than this are swept again (beat's sweep takes 30 s; a test need not wait so long).
FEEDBACK_SWEEP_AFTER = 5.0
_databases = itertools.count(1)


@dataclass
class Cluster:
    pg: ThrowawayPostgres
    seed: dict


@pytest.fixture(scope="session")
def fault_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the session's own, with the migrated and seeded template database."""
    pg = ThrowawayPostgres()
    pg.init()
    pg.start()
    try:
        pg.psql(f"CREATE DATABASE {TEMPLATE}")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": pg.url(TEMPLATE)}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run(
            [sys.executable, "-m", "tests.support.fault_seed"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        line = [x for x in out.stdout.splitlines() if x.startswith("SEED=")]
        assert line, f"seeding failed:\n{out.stdout}\n{out.stderr}"
        yield Cluster(pg=pg, seed=json.loads(line[0][5:]))
    finally:
        pg.destroy()


@dataclass
class Answer:
    kind: str  # "request" or "feedback"
    started: float
    ended: float
    status: int
    body: dict
    sent: dict = field(default_factory=dict)


def _exchange(base: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"raw": raw[:500].decode(errors="replace")}
    except OSError as exc:
        return 0, {"error": repr(exc)}


class Stack:
    """The service on a database copied from the template and a Redis of its own."""

    def __init__(self, cluster: Cluster, tmp_path: Path, *, aof: bool = False, env: dict | None = None) -> None:
        self.cluster = cluster
        self.pg = cluster.pg
        self.tmp = tmp_path
        self.database = f"recsvc_faults_{os.getpid()}_{next(_databases)}"
        self.redis = ThrowawayRedis(tmp_path / "redis", aof=aof)
        self.extra_env = env or {}
        self.worker: subprocess.Popen | None = None
        self.base = ""
        self._app = None
        self._stop = threading.Event()
        self._workers_started = 0

    # -- the processes -------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        models = self.tmp / "models"
        models.mkdir(exist_ok=True)
        return {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', os.defpath)}",
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.pg.url(self.database),
            "REDIS_URL": self.redis.url(),
            "CELERY_BROKER_URL": self.redis.url(),
            "CELERY_RESULT_BACKEND": self.redis.url(),
            "RECOMMENDATION_MODELS_DIR": str(models),
            "RECOMMENDATION_SWEEP_QUEUED_AFTER": "3",
            "PYTHONUNBUFFERED": "1",
            "WORKER_METRICS_PORT": "0",
            **self.extra_env,
        }

    def start_worker(self, *, wait: bool = True) -> None:
        self._workers_started += 1
        log = open(self.tmp / f"worker-{self._workers_started}.log", "wb")
        env = {**self.env, "WORKER_CONCURRENCY": "2", "WORKER_NAME": f"faults-{os.getpid()}-{self._workers_started}"}
        self.worker = subprocess.Popen(
            ["sh", str(ROOT / "scripts" / "start-worker.sh")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if wait:
            self.wait_worker()

    def wait_worker(self, timeout: float = 90) -> None:
        from workers import names

        deadline = time.monotonic() + timeout
        while True:
            assert self.worker.poll() is None, f"the worker exited with {self.worker.returncode}: {self.worker_log()}"
            try:
                self.app.send_task(names.PING, queue="recommendations").get(timeout=5)
                return
            except Exception:
                assert time.monotonic() < deadline, f"the worker did not answer: {self.worker_log()}"
                time.sleep(0.3)

    def worker_log(self, tail: int | None = 4000) -> str:
        text = (self.tmp / f"worker-{self._workers_started}.log").read_text(errors="replace")
        return text[-tail:] if tail else text

    def worker_children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.worker.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def kill_worker_child(self) -> bool:
        children = self.worker_children()
        if not children:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(random.choice(children), signal.SIGKILL)
        return True

    def kill_worker(self) -> None:
        """SIGKILL the worker's main process and its children at once, as a crash of the host would."""
        children = self.worker_children()
        self.worker.send_signal(signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.worker.wait()

    @property
    def app(self):
        """A Celery app of the test's own, on this stack's broker (the suite's app is on the shared one)."""
        if self._app is None:
            from celery import Celery

            self._app = Celery("faults", broker=self.redis.url(), backend=self.redis.url())
            self._app.conf.broker_connection_retry_on_startup = True
        return self._app

    def _sweep_forever(self) -> None:
        from workers import names

        while not self._stop.wait(SWEEP_EVERY):
            with contextlib.suppress(Exception):  # the broker may be down: so would beat's sends fail
                self.app.send_task(names.REQUESTS_SWEEP, queue="maintenance")
                self.app.send_task(names.FEEDBACK_SWEEP, args=[FEEDBACK_SWEEP_AFTER], queue="feedback")

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        self.pg.psql(f"CREATE DATABASE {self.database} TEMPLATE {TEMPLATE}")
        self.redis.start()
        overrides = {"DJANGO_SETTINGS_MODULE": "config.settings.test", "WEB_THREADS": "8"}
        try:
            self.start_worker(wait=False)  # warms up (torch, the model) while the web starts
            with live_web(self.env, self.tmp, overrides=overrides) as web:
                self.web = web
                self.base = f"http://127.0.0.1:{web.port}"
                self.wait_worker()
                sweeper = threading.Thread(target=self._sweep_forever, daemon=True)
                sweeper.start()
                yield self
                self._stop.set()
                sweeper.join()
        finally:
            self._stop.set()
            if self.worker is not None and self.worker.poll() is None:
                self.kill_worker()
            self.redis.kill()
            with contextlib.suppress(Exception):
                self.pg.psql(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")

    # -- the database, read directly -------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(self.pg.url(self.database))) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def execute(self, sql: str, params: tuple = ()) -> None:
        with contextlib.closing(psycopg2.connect(self.pg.url(self.database))) as conn:
            with conn.cursor() as cur:
                cur.execute(sql, params)
            conn.commit()

    # -- what a 202 promises ---------------------------------------------------------------
    def check(self, traffic: Traffic, *, outages: list[tuple[float, float]] = (), bound: float = 150) -> dict:
        """Every promise kept; returns the counts (and the statuses of the requests, by id)."""
        self._check_answers(traffic, outages)
        ids = traffic.accepted_requests()
        states = self._wait_finished(ids, bound)
        failed = {i: e for i, (s, e) in states.items() if s == "failed"}
        assert all(failed.values()), f"failed without a reason: {[i for i, e in failed.items() if not e]}"
        self._check_rows()
        self._check_api_agrees(traffic, states)
        keys = traffic.accepted_events()
        self._check_feedback(keys, bound)
        return {"requests": len(ids), "failed": failed, "events": len(keys), "answers": traffic.statuses()}

    @staticmethod
    def _check_answers(traffic: Traffic, outages) -> None:
        def during_outage(answer: Answer) -> bool:
            # Asked while the service was down, or answered before it was back.
            return any(answer.started < up and answer.ended >= down for down, up in outages)

        def when(answer: Answer) -> str:
            # Seconds from the end of the last outage before it (negative: before the first).
            ends = [up for _, up in outages if up <= answer.started]
            return f"{answer.started - (ends[-1] if ends else outages[0][0] if outages else 0):+.2f}s"

        bad = [
            (a.kind, a.status, when(a), a.body.get("detail", a.body))
            for a in traffic.answers
            if a.status not in (200, 202) and not (a.status == 503 and during_outage(a))
        ]
        assert not bad, f"{len(bad)} answers other than 200/202 (or a 503 during an outage): {bad[:5]}"

    def _wait_finished(self, ids: list[str], bound: float) -> dict[str, tuple[str, str]]:
        deadline = time.monotonic() + bound
        while True:
            rows = self.query(
                "SELECT id::text, status, error FROM recommendations_recommendationrequest WHERE id::text = ANY(%s)",
                (ids,),
            )
            states = {i: (s, e) for i, s, e in rows}
            open_ = [i for i in ids if states.get(i, ("missing",))[0] not in ("succeeded", "failed")]
            if not open_:
                return states
            assert time.monotonic() < deadline, (
                f"{len(open_)} of {len(ids)} accepted requests not finished within {bound}s: "
                f"{[(i, states.get(i)) for i in open_[:5]]}"
            )
            time.sleep(0.5)

    def _check_rows(self) -> None:
        doubled = self.query(
            "SELECT request_id, cleaner_id, count(*) FROM recommendations_cleanerrecommendation "
            "WHERE request_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1"
        )
        assert not doubled, f"duplicate recommendation rows: {doubled[:5]}"
        mismatched = self.query(
            "SELECT r.id, jsonb_array_length(r.result::jsonb -> 'cleaners'), count(c.id) "
            "FROM recommendations_recommendationrequest r "
            "LEFT JOIN recommendations_cleanerrecommendation c ON c.request_id = r.id "
            "WHERE r.status = 'succeeded' AND r.kind = 'cleaners_for_job' GROUP BY r.id "
            "HAVING jsonb_array_length(r.result::jsonb -> 'cleaners') <> count(c.id)"
        )
        assert not mismatched, f"succeeded requests whose rows differ from their answer: {mismatched[:5]}"

    def _check_api_agrees(self, traffic: Traffic, states: dict) -> None:
        token = traffic.callers[0]["token"]
        for answer in traffic.answers:
            if answer.kind != "request" or answer.status != 202:
                continue
            token = answer.sent["token"]
            status, body = _exchange(self.base, "GET", f"/api/v1/recommendation-requests/{answer.body['id']}/", token)
            assert status == 200, body
            assert body["status"] == states[answer.body["id"]][0], (body, states[answer.body["id"]])

    def _check_feedback(self, keys: list[str], bound: float) -> None:
        deadline = time.monotonic() + bound
        while True:
            applied = self.query(
                "SELECT count(*) FROM recommendations_recommendationfeedback "
                "WHERE idempotency_key = ANY(%s) AND applied_at IS NOT NULL",
                (keys,),
            )[0][0]
            if applied == len(keys):
                break
            assert time.monotonic() < deadline, f"{len(keys) - applied} of {len(keys)} accepted events not applied"
            time.sleep(0.5)
        # Applied once: each event is a view of its own recommendation, counted on its cleaner.
        viewed = self.query(
            "SELECT coalesce(sum(times_viewed), 0) FROM recommendations_cleanerscore",
        )[0][0]
        stored = self.query("SELECT count(*) FROM recommendations_recommendationfeedback WHERE event = 'viewed'")[0][0]
        viewed -= self.cluster.seed["viewed_before"]
        stored -= self.cluster.seed["feedback_viewed_before"]
        assert viewed == stored == len(keys), f"views counted {viewed}, events stored {stored}, accepted {len(keys)}"


class Traffic:
    """Threads sending recommendation requests and feedback batches until stopped; every answer kept."""

    def __init__(self, stack: Stack, *, threads: int = 4, feedback_share: float = 0.0, pause: float = 0.0) -> None:
        self.stack = stack
        self.callers = stack.cluster.seed["callers"]
        self.answers: list[Answer] = []
        self.threads = threads
        self.feedback_share = feedback_share
        self.pause = pause
        self._lock = threading.Lock()
        self._limits = itertools.count(1)
        self._recs = [(c, rec) for c in self.callers for rec in c["recommendations"]]
        random.Random(3).shuffle(self._recs)
        self._stop = threading.Event()
        self._remaining: int | None = None
        self._pool: list[threading.Thread] = []

    def request(self, caller: dict | None = None, job: int | None = None) -> Answer:
        """One recommendation request, a new question each time (its limit differs), answer recorded."""
        caller = caller or random.choice(self.callers)
        job = job or random.choice(caller["jobs"])
        with self._lock:
            limit = next(self._limits) % 50 + 1
        t = time.monotonic()
        status, body = _exchange(
            self.stack.base, "POST", f"/api/v1/jobs/{job}/recommendations/", caller["token"], {"limit": limit}
        )
        return self._record(Answer("request", t, time.monotonic(), status, body, {"token": caller["token"]}))

    def feedback(self, size: int = 5) -> Answer | None:
        with self._lock:
            if len(self._recs) < size:
                return None
            caller = self._recs[-1][0]
            batch = [rec for c, rec in self._recs[-size:] if c is caller]
            self._recs = [pair for pair in self._recs if not (pair[0] is caller and pair[1] in batch)]
        events = [
            {
                "recommendation_type": "cleaner",
                "recommendation_id": rec,
                "event": "viewed",
                "idempotency_key": uuid.uuid4().hex,
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            for rec in batch
        ]
        t = time.monotonic()
        status, body = _exchange(self.stack.base, "POST", "/api/v1/feedback/", caller["token"], {"events": events})
        return self._record(Answer("feedback", t, time.monotonic(), status, body, {"events": events}))

    def _record(self, answer: Answer) -> Answer:
        with self._lock:
            self.answers.append(answer)
        return answer

    def _loop(self) -> None:
        rng = random.Random()
        while not self._stop.is_set():
            with self._lock:
                if self._remaining is not None:
                    if self._remaining <= 0:
                        return
                    self._remaining -= 1
            if rng.random() < self.feedback_share:
                self.feedback()
            else:
                self.request()
            if self.pause:
                time.sleep(self.pause)

    def start(self, total: int | None = None) -> Traffic:
        self._remaining = total
        self._pool = [threading.Thread(target=self._loop, daemon=True) for _ in range(self.threads)]
        for thread in self._pool:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self) -> None:
        for thread in self._pool:
            thread.join(timeout=120)

    def accepted_requests(self) -> list[str]:
        return [a.body["id"] for a in self.answers if a.kind == "request" and a.status == 202]

    def accepted_events(self) -> list[str]:
        return [
            e["idempotency_key"]
            for a in self.answers
            if a.kind == "feedback" and a.status == 202
            for e in a.sent["events"]
        ]

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in self.answers:
            counts[f"{a.kind} {a.status}"] = counts.get(f"{a.kind} {a.status}", 0) + 1
        return counts
