"""`make soak`: mixed traffic at a bounded rate against the real processes, for minutes (issue 12).

Not part of CI. On loopback, against its own database (`<DATABASE_URL's database>_soak`, or
SQLite under var/) and the Redis of REDIS_URL: scripts/start-web.sh, scripts/start-worker.sh
(every short queue) and scripts/start-beat.sh, as production runs them. The traffic, at
`--rate` requests per second in all from `--clients` threads, is a mix of new recommendation
requests (POST, then GET ?wait for the answer), cached reads (a question asked before: 200 from
the cache, or 202 and the wait when a write invalidated it), feedback events on answers
received, and sync-API writes by an integration key (a cleaner upserted, a job's title changed).

It asserts, and prints: no error (every answer the status it should have, every request
answered `succeeded`), each process's resident memory at the end within 10% of what it was
after the warm-up, and the queues' depth bounded (Redis list lengths sampled every 5 s). The
figures go to BENCHMARKS.md's "Soak" section (`--no-write` leaves it alone).

    DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/N make soak SOAK_ARGS="--minutes 10"
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
QUEUES = ("recommendations", "feedback", "webhooks", "maintenance")
MEMORY_GROWTH_MAX = 0.10
QUEUE_DEPTH_MAX = 100


# --- the processes ---------------------------------------------------------------------------


def soak_env() -> dict:
    """A fresh database of the soak's own, the models directory under var/, production-like settings."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "PYTHONUNBUFFERED": "1"}
    env["PATH"] = f"{Path(PY).parent}:{env.get('PATH', '')}"
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        base, name = url.rsplit("/", 1)
        soak = f"{name}_soak"
        for sql in (f"DROP DATABASE IF EXISTS {soak}", f"CREATE DATABASE {soak}"):
            subprocess.run(["psql", f"{base}/postgres", "-qc", sql], check=True)
        env["DATABASE_URL"] = f"{base}/{soak}"
    else:
        db = ROOT / "var" / "soak.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{db}"
    env["RECOMMENDATION_MODELS_DIR"] = str(ROOT / "var" / "soak-models")
    subprocess.run(["rm", "-rf", env["RECOMMENDATION_MODELS_DIR"]], check=True)
    env["DJANGO_DEBUG"] = "0"
    return env


def manage(env: dict, *args: str) -> str:
    out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


_CREDENTIALS = """
import json, django; django.setup()
from rest_framework.authtoken.models import Token
from app.accounts.models import User
from app.integrations.services import integration_key_create
from app.marketplace.models import CleaningJob
jobs = {}
for job in CleaningJob.objects.filter(status="open_for_bids").select_related("client").order_by("pk")[:400]:
    jobs.setdefault(job.client.user_id, []).append(job.pk)
clients = [
    {"token": Token.objects.get_or_create(user_id=user)[0].key, "jobs": ids}
    for user, ids in sorted(jobs.items(), key=lambda kv: -len(kv[1]))[:8]
]
operator = User.objects.filter(role="operator").first()
_, secret = integration_key_create(name="soak", created_by=operator)
print("RESULT=" + json.dumps({"clients": clients, "key": secret}))
"""


def prepare(env: dict) -> dict:
    """Migrate, a small marketplace, a model; the credentials the traffic uses."""
    manage(env, "migrate", "--noinput")
    manage(env, "generate_training_data", "--jobs", "2000", "--cleaners", "150", "--clients", "200", "--seed", "7")
    manage(env, "reset_sequences")
    manage(env, "train_recommendation_model", "--epochs", "10", "--model-version", "soak-1")
    out = subprocess.run([PY, "-c", _CREDENTIALS], cwd=ROOT, env=env, capture_output=True, text=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT=")]
    if not line:
        raise SystemExit(f"credentials failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(line[0][7:])


class Stack:
    """The web, the worker and beat, each from its start script, with logs under var/."""

    def __init__(self, env: dict, port: int) -> None:
        self.env = {
            **env,
            "WEB_BIND": f"127.0.0.1:{port}",
            "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / f"soak-web-metrics-{port}"),
            "WORKER_NAME": f"soak-{port}",
            "WORKER_QUEUES": ",".join(QUEUES),
            "WORKER_METRICS_ADDR": "127.0.0.1",
            "WORKER_METRICS_PORT": str(_free_port()),
        }
        self.base = f"http://127.0.0.1:{port}"
        self._log = open(ROOT / "var" / "soak-processes.log", "w")
        self.processes = {
            name: subprocess.Popen(
                ["sh", str(ROOT / "scripts" / f"start-{name}.sh")],
                cwd=ROOT,
                env=self.env,
                stdout=self._log,
                stderr=self._log,
            )
            for name in ("web", "worker", "beat")
        }

    def wait_until_up(self, client: dict) -> None:
        """Return once the web answers and the worker has answered a first question."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for name, p in self.processes.items():
                if p.poll() is not None:
                    raise SystemExit(f"start-{name}.sh exited: see var/soak-processes.log")
            try:
                if call("GET", f"{self.base}/healthz", client["token"])[0] == 200:
                    url = f"{self.base}/api/v1/jobs/{client['jobs'][0]}/recommendations/"
                    status, body = call("POST", url, client["token"], {"limit": 10})
                    if status == 200 or call("GET", body["status_url"] + "?wait=30", client["token"])[0] == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise SystemExit("the stack was not ready within 180 s")

    def resident(self) -> dict[str, int]:
        """Resident memory (bytes) of every process of the stack, by a name that says which it is."""
        out = {}
        for name, p in self.processes.items():
            try:
                top = psutil.Process(p.pid)
                out[f"{name} main (pid {top.pid})"] = top.memory_info().rss
                for child in top.children(recursive=True):
                    out[f"{name} child (pid {child.pid})"] = child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return out

    def stop(self) -> None:
        for p in self.processes.values():
            p.terminate()
        for p in self.processes.values():
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
        self._log.close()
        subprocess.run(["rm", "-rf", self.env["PROMETHEUS_MULTIPROC_DIR"]], check=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the traffic -----------------------------------------------------------------------------


def call(method: str, url: str, credential: str, body: dict | None = None, headers: dict | None = None):
    """One exchange: (status, parsed JSON or None). Any status is returned, never raised."""
    scheme = "Bearer" if credential.startswith("rsk_") else "Token"
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"{scheme} {credential}", "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


@dataclass
class Tally:
    """What the traffic saw: counts per kind and outcome, and the errors' first lines."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    answered: list[tuple[str, int, int]] = field(default_factory=list)  # (token, job, cleaner) for feedback

    def ok(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] += 1

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.counts[f"{kind} error"] += 1
            if len(self.errors) < 50:
                self.errors.append(f"{kind}: {what}"[:300])


class Traffic:
    """The four kinds of request, chosen at random with fixed weights."""

    WEIGHTS = {"new question": 20, "cached read": 40, "feedback": 25, "sync write": 15}

    def __init__(self, base: str, credentials: dict, tally: Tally) -> None:
        self.base, self.tally = f"{base}/api/v1", tally
        self.clients, self.key = credentials["clients"], credentials["key"]
        self.questions = itertools.count()  # new questions: (job, limit) pairs never asked before
        self.writes = itertools.count()

    def one(self, rng: random.Random) -> None:
        kind = rng.choices(list(self.WEIGHTS), weights=list(self.WEIGHTS.values()))[0]
        try:
            getattr(self, "_" + kind.replace(" ", "_"))(rng, kind)
        except Exception as e:  # a refused connection, a timeout: an error like any other
            self.tally.error(kind, repr(e))

    def _ask(self, kind: str, token: str, job: int, limit: int) -> None:
        status, body = call("POST", f"{self.base}/jobs/{job}/recommendations/", token, {"limit": limit})
        if status == 202:
            status, body = call("GET", body["status_url"] + "?wait=30", token)
            if status != 200 or body["status"] != "succeeded":
                return self.tally.error(kind, f"GET {status} {body}")
            answer = body["result"]
        elif status == 200 and body.get("cached"):
            answer = body["result"]
        else:
            return self.tally.error(kind, f"POST {status} {body}")
        self.tally.ok(kind)
        if answer["cleaners"]:
            with self.tally.lock:
                self.tally.answered.append((token, job, answer["cleaners"][0]["cleaner_id"]))
                del self.tally.answered[:-200]

    def _new_question(self, rng: random.Random, kind: str) -> None:
        n = next(self.questions)
        client = self.clients[n % len(self.clients)]
        job = client["jobs"][(n // len(self.clients)) % len(client["jobs"])]
        limit = (n // (len(self.clients) * len(client["jobs"]))) % 100 + 1
        self._ask(kind, client["token"], job, limit)

    def _cached_read(self, rng: random.Random, kind: str) -> None:
        client = rng.choice(self.clients)
        self._ask(kind, client["token"], client["jobs"][0], 10)

    def _feedback(self, rng: random.Random, kind: str) -> None:
        with self.tally.lock:
            picked = rng.choice(self.tally.answered) if self.tally.answered else None
        if picked is None:
            return self._cached_read(rng, "cached read")
        token, job, cleaner = picked
        event = {
            "recommendation_type": "cleaner",
            "job_id": job,
            "cleaner_id": cleaner,
            "event": rng.choice(["viewed", "clicked"]),
            "idempotency_key": f"soak-{time.time_ns()}-{rng.random()}",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        status, body = call("POST", f"{self.base}/feedback/", token, {"events": [event]})
        if status == 202 or (status == 200 and body and body.get("accepted") == 1):
            return self.tally.ok(kind)
        self.tally.error(kind, f"{status} {body}")

    def _sync_write(self, rng: random.Random, kind: str) -> None:
        n = next(self.writes)
        data = {"home_lat": 40.7 + rng.random() / 10, "home_lng": -74.0, "hourly_rate": rng.randint(20, 60)}
        status, body = call("PUT", f"{self.base}/marketplace/cleaners/soak-cleaner-{n % 50}/", self.key, data)
        if status in (200, 201):
            return self.tally.ok(kind)
        self.tally.error(kind, f"{status} {body}")


def drive(traffic: Traffic, *, rate: float, clients: int, seconds: float) -> None:
    """`rate` requests per second in all, from `clients` threads, for `seconds`: a fixed schedule, not as fast as possible."""
    stop = time.monotonic() + seconds
    interval = clients / rate

    def loop(i: int) -> None:
        rng = random.Random(i)
        due = time.monotonic() + i * interval / clients
        while due < stop and time.monotonic() < stop:
            time.sleep(max(0.0, due - time.monotonic()))
            traffic.one(rng)
            # A slow answer delays this thread's next request (never piles them up), and the
            # soak ends on time: fewer requests than the rate allows when answers are slow.
            due += interval

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --- the figures -----------------------------------------------------------------------------


@dataclass
class Depths:
    samples: list[dict[str, int]] = field(default_factory=list)

    def sample(self, r: redis.Redis) -> None:
        self.samples.append({q: r.llen(q) for q in QUEUES})

    def max(self) -> dict[str, int]:
        return {q: max(s[q] for s in self.samples) for q in QUEUES} if self.samples else {}


def sample_depths(r: redis.Redis, depths: Depths, stop: threading.Event) -> None:
    while not stop.wait(5):
        depths.sample(r)


def growth(start: dict[str, int], end: dict[str, int]) -> list[tuple[str, int | None, int | None, float | None]]:
    """Per process: (name, RSS at the start, RSS at the end, growth); None where it was not there.

    gunicorn replaces a web process after --max-requests: the replacement is listed with its
    end figure only, beside the start figure of the one it replaced.
    """
    rows: list[tuple[str, int | None, int | None, float | None]] = []
    for name, before in start.items():
        after = end.get(name)
        rows.append((name, before, after, None if after is None else after / before - 1))
    rows += [(name, None, after, None) for name, after in end.items() if name not in start]
    return rows


def section(args, tally: Tally, rss: list, depths: Depths, load: tuple, seconds: float, failures: list[str]) -> str:
    total = sum(v for k, v in tally.counts.items() if not k.endswith("error"))
    errors = sum(v for k, v in tally.counts.items() if k.endswith("error"))
    lines = [
        "## Soak",
        "",
        f'`make soak SOAK_ARGS="--minutes {args.minutes:g} --rate {args.rate:g}"` (scripts/soak.py): '
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} minutes of mixed traffic at "
        f"{args.rate:g} requests/s from {args.clients} client threads on loopback against start-web.sh, "
        "start-worker.sh (every short queue) and start-beat.sh. Not part of CI. "
        f"Load average of the machine (shared with other sessions) at start and end: "
        f"{load[0]:.1f} / {load[1]:.1f}.",
        "",
        f"Result: **{'passed' if not failures else 'FAILED: ' + '; '.join(failures)}**.",
        "",
        "| traffic | answered as expected | errors |",
        "|---|---|---|",
        *[f"| {k} | {tally.counts[k]:,} | {tally.counts[k + ' error']:,} |" for k in Traffic.WEIGHTS],
        f"| all, warm-up included | {total:,} ({total / (seconds + args.warmup):.1f}/s) | {errors:,} |",
        "",
        f"Resident memory per process, after {args.warmup:g} s of warm-up and at the end (target: < 10% growth):",
        "",
        "| process | start | end | growth |",
        "|---|---|---|---|",
        *[
            f"| {name} | {_mib(b, 'started during the soak')} | {_mib(a, 'replaced (gunicorn --max-requests)')} | "
            + ("" if g is None else f"{g:+.1%}")
            + " |"
            for name, b, a, g in rss
        ],
        "",
        f"Queue depth (Redis list lengths, sampled every 5 s, {len(depths.samples)} samples): maximum "
        + ", ".join(f"{q} {n}" for q, n in depths.max().items())
        + "; at the end "
        + ", ".join(f"{q} {n}" for q, n in (depths.samples[-1] if depths.samples else {}).items())
        + f" (bound {QUEUE_DEPTH_MAX}).",
        "",
    ]
    return "\n".join(lines)


def _mib(rss: int | None, absent: str) -> str:
    return absent if rss is None else f"{rss / 2**20:.1f} MiB"


def write_section(text: str) -> None:
    """Replace BENCHMARKS.md's Soak section (up to the next `## `), or append one."""
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text()
    pattern = re.compile(r"^## Soak\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all kinds together")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds of traffic before the first memory reading")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    env = soak_env()
    print("preparing (database, marketplace, model) ...", flush=True)
    credentials = prepare(env)
    stack = Stack(env, _free_port())
    try:
        stack.wait_until_up(credentials["clients"][0])
        result = soak(args, stack, env, credentials)
    finally:
        stack.stop()
    text, failures = result
    print(text)
    if not args.no_write:
        write_section(text)
        print("wrote BENCHMARKS.md (Soak)")
    sys.exit(1 if failures else 0)


def soak(args, stack: Stack, env: dict, credentials: dict) -> tuple[str, list[str]]:
    tally = Tally()
    traffic = Traffic(stack.base, credentials, tally)
    r = redis.Redis.from_url(env["REDIS_URL"]) if env.get("REDIS_URL") else None
    load_start = os.getloadavg()[0]
    print(f"warm-up: {args.warmup:g} s", flush=True)
    drive(traffic, rate=args.rate, clients=args.clients, seconds=args.warmup)
    start_rss = stack.resident()
    depths, stop = Depths(), threading.Event()
    sampler = threading.Thread(target=sample_depths, args=(r, depths, stop), daemon=True) if r else None
    if sampler:
        sampler.start()
    seconds = args.minutes * 60
    print(f"soak: {seconds:g} s at {args.rate:g}/s", flush=True)
    t = time.monotonic()
    drive(traffic, rate=args.rate, clients=args.clients, seconds=seconds)
    elapsed = time.monotonic() - t
    stop.set()
    time.sleep(5)  # the last tasks finish before the last reading
    if r:
        depths.sample(r)
    rss = growth(start_rss, stack.resident())
    failures = []
    errors = sum(v for k, v in tally.counts.items() if k.endswith("error"))
    if errors:
        failures.append(f"{errors} errors (first: {tally.errors[:3]})")
    failures += [f"{n} grew {g:.1%}" for n, _, _, g in rss if g is not None and g >= MEMORY_GROWTH_MAX]
    if any(n > QUEUE_DEPTH_MAX for n in depths.max().values()):
        failures.append(f"a queue deeper than {QUEUE_DEPTH_MAX}: {depths.max()}")
    return section(args, tally, rss, depths, (load_start, os.getloadavg()[0]), elapsed, failures), failures


if __name__ == "__main__":
    main()
