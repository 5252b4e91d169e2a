"""Throughput under concurrency (issue 12): many clients at once, against the web as production runs it.

The web is scripts/start-web.sh itself (gunicorn gthread, 2 processes of 32 threads unless
WEB_WORKERS / WEB_THREADS say otherwise) on a free port, with the bench's worker restarted as
scripts/start-worker.sh runs it (concurrency 2, `-O fair`). The load comes from `wrk`, a
compiled client (Debian's package), so that the client eats as little of the two cores as it
can; its script is wrk/load.lua. Beside each figure, in the same run:

- bare `GET /healthz` at 8 and 32 clients (the web's floor: gunicorn, the middleware, no view);
- the bare Celery no-op (`recommendations.ping`) at 8 client threads (the queue's floor).

Measured: the cached answer for a client token at 8 and 32 clients; a new question end to end
(POST, then GET `?wait` for its answer) at 8 clients; one client's latency of the cached
answer for each kind of credential (client, cleaner, operator token; integration key) against
one client's `/healthz`. The user rate of the web under test is raised (`API_USER_RATE`) so
that the throttle counts every request, as always, but refuses none. Where a target is missed,
the same question is profiled in a process of its own (throughput_profile.py) and the
report says where its time goes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.bench.harness import PY, ROOT, free_port, http_json, run_probe

if TYPE_CHECKING:
    from scripts.bench.end_to_end import Endpoint
    from scripts.bench.harness import WebAndWorker
    from scripts.bench.report import Report

WRK = shutil.which("wrk")
LOAD = Path(__file__).with_name("wrk") / "load.lua"
SECONDS = int(os.environ.get("BENCH_THROUGHPUT_SECONDS", "10"))
CONCURRENCIES = (8, 32)
UNCACHED_JOBS = 60  # new questions: 60 jobs x 100 limits, more than 10 s can ask
# Targets (issue 12).
CACHED_SHARE_OF_BARE = 0.70
UNCACHED_PER_SECOND = 250
CREDENTIAL_LATENCY_VS_BARE = 1.5


@dataclass
class WrkRun:
    """One wrk run's figures: answers per second and latency percentiles (ms)."""

    requests: int
    seconds: float
    unexpected: int  # answers of another status than asked for (or, for flows, not succeeded)
    socket_errors: int
    finished: int  # flows only: questions answered `succeeded`
    unfinished: int  # flows only: still queued or running after the wait
    p50: float
    p90: float
    p99: float
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of the watched processes in the run
    machine_busy: float = 0.0  # the share of every core busy meanwhile, anyone's work (other sessions too)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def flows_rate(self) -> float:
        return self.finished / self.seconds

    def cpu_per(self, count: int) -> str:
        """The watched processes' CPU per request (or per question), and how busy the machine was."""
        each = ", ".join(f"{name} {1000 * sec / max(count, 1):.2f} ms" for name, sec in self.cpu.items())
        return f"CPU per answer: {each}; the machine {self.machine_busy:.0%} busy"

    @property
    def errors(self) -> int:
        return self.unexpected + self.socket_errors


def cpu_seconds(root: int) -> float:
    """User + system CPU time so far of process `root` and its descendants, those gone included.

    gunicorn replaces a web process after --max-requests: a child it has reaped counts in its
    parent's `children_*` times, a live one in its own.
    """
    import psutil

    try:
        top = psutil.Process(root)
        t = top.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in top.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


# Whose CPU a run watches: a name and the process at the root of its tree.
Watch = dict[str, int]


def wrk(url: str, *args: str, connections: int, seconds: int = SECONDS, watch: Watch | None = None) -> WrkRun:
    import psutil

    threads = min(2, connections)
    watch = watch or {}
    before = {name: cpu_seconds(root) for name, root in watch.items()}
    machine = psutil.cpu_times()
    out = subprocess.run(
        [WRK or "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "15s", "-s", str(LOAD)]
        + [url, "--", *args]
        + ([str(threads)] if args and args[0] == "flow" else []),
        capture_output=True,
        text=True,
    )
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT=")]
    if not line:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line[0][7:])
    now = psutil.cpu_times()
    busy = (now.user + now.system + now.nice) - (machine.user + machine.system + machine.nice)
    return WrkRun(
        cpu={name: cpu_seconds(root) - before[name] for name, root in watch.items()},
        machine_busy=busy / ((r["duration_us"] / 1e6) * (os.cpu_count() or 1)),
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        unexpected=r["unexpected"],
        socket_errors=r["socket_errors"],
        finished=r["finished"],
        unfinished=r["unfinished"],
        p50=r["p50_us"] / 1000,
        p90=r["p90_us"] / 1000,
        p99=r["p99_us"] / 1000,
    )


# --- the web and the worker as production runs them ------------------------------------------


class ProductionWeb:
    """scripts/start-web.sh on a free loopback port; stopped by `stop`."""

    def __init__(self, env: dict, log) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "PATH": f"{Path(PY).parent}:{env.get('PATH', '')}",
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / f"bench-web-metrics-{self.port}"),
            "API_USER_RATE": "100000000/min",
        }
        self.process = subprocess.Popen(
            ["sh", str(ROOT / "scripts" / "start-web.sh")], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit("scripts/start-web.sh exited: see var/bench-processes.log") from None
                time.sleep(0.2)
        raise SystemExit("scripts/start-web.sh did not listen within 120 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


# --- who asks ----------------------------------------------------------------------------------


@dataclass
class Asker:
    """A credential and the plain question it asks (whose answer is cached once asked)."""

    name: str
    scheme: str
    secret: str
    path: str
    body: str = '{"limit": 10}'

    def header(self) -> str:
        return f"{self.scheme} {self.secret}"


def askers(endpoint: Endpoint) -> list[Asker]:
    """The four kinds of credential, each asking what it may ask, made in this process's database."""
    from rest_framework.authtoken.models import Token

    from app.accounts.models import User
    from app.integrations.services import integration_key_create
    from app.marketplace.models import CleanerProfile

    job_path = f"/api/v1/jobs/{endpoint.job_id}/recommendations/"
    operator, _ = User.objects.get_or_create(username="bench-operator", defaults={"role": User.Role.OPERATOR})
    cleaner = CleanerProfile.objects.filter(user__is_active=True).select_related("user").order_by("pk").first()
    _, secret = integration_key_create(name="bench throughput", created_by=operator)
    return [
        Asker("client token (fast path)", "Token", endpoint.token, job_path),
        Asker(
            "cleaner token",
            "Token",
            Token.objects.get_or_create(user=cleaner.user)[0].key,
            f"/api/v1/cleaners/{cleaner.pk}/recommendations/",
        ),
        Asker("operator token", "Token", Token.objects.get_or_create(user=operator)[0].key, job_path),
        Asker("integration key (rsk_...)", "Bearer", secret, job_path),
    ]


def _exchange(base: str, asker: Asker) -> tuple[int, dict]:
    import urllib.request

    req = urllib.request.Request(
        base + asker.path,
        data=asker.body.encode(),
        method="POST",
        headers={"Authorization": asker.header(), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, json.loads(resp.read())


def prime(base: str, asker: Asker) -> None:
    """Ask once and wait for the answer, so that the same question is answered from the cache next."""
    status, body = _exchange(base, asker)
    if status == 202:
        token = asker.secret if asker.scheme == "Token" else ""
        if token:
            _, done = http_json("GET", body["status_url"] + "?wait=20", token)
        else:
            done = _bearer_get(body["status_url"] + "?wait=20", asker.secret)
        assert done["status"] == "succeeded", done
        time.sleep(0.3)  # the worker caches the answer right after publishing it
        status, body = _exchange(base, asker)
    assert status == 200 and body.get("cached"), (asker.name, status, body)


def _bearer_get(url: str, secret: str) -> dict:
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def uncached_jobs(endpoint: Endpoint) -> list[int]:
    """UNCACHED_JOBS open jobs of the bench client, copies of the bench job: questions never asked."""
    from app.marketplace.models import CleaningJob, external_id_new

    template = CleaningJob.objects.get(pk=endpoint.job_id)
    ids = []
    for _ in range(UNCACHED_JOBS):
        template.pk, template.external_id = None, external_id_new()
        template.save()
        ids.append(template.pk)
    return ids


# --- the Celery floor --------------------------------------------------------------------------


def celery_noop_rate(processes: WebAndWorker, clients: int = 8, seconds: float = 5.0) -> float:
    """No-op tasks answered per second with `clients` threads each sending one and waiting for it."""
    from workers import names

    done = [0] * clients
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            processes.app.send_task(names.PING).get(timeout=30)
            done[i] += 1

    t = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(done) / (time.monotonic() - t)


# --- the step ----------------------------------------------------------------------------------


@dataclass
class Throughput:
    missing: str = ""  # why nothing was measured (no wrk)
    bare: dict[int, WrkRun] = field(default_factory=dict)
    cached: dict[int, WrkRun] = field(default_factory=dict)
    uncached: WrkRun | None = None
    celery: float = 0.0
    single_bare: WrkRun | None = None
    single: dict[str, WrkRun] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)  # where the time goes, per missed target
    web_layout: str = ""


def measure(env: dict, processes: WebAndWorker, endpoint: Endpoint) -> Throughput:
    if WRK is None:
        return Throughput(missing="wrk is not installed (`apt-get install -y wrk`): no throughput measured")
    processes.restart_worker("-c", "2", "-O", "fair")  # as scripts/start-worker.sh
    who = askers(endpoint)
    jobs = uncached_jobs(endpoint)
    with open(ROOT / "var" / "bench-web.log", "w") as log:
        web = ProductionWeb(env, log)
        try:
            return _measure(env, web, processes, who, jobs)
        finally:
            web.stop()


def _measure(env: dict, web: ProductionWeb, processes: WebAndWorker, who: list[Asker], jobs: list[int]) -> Throughput:
    out = Throughput(web_layout=f"{web.env.get('WEB_WORKERS', '2')}x{web.env.get('WEB_THREADS', '32')}")
    for asker in who:
        prime(web.base, asker)
    healthz = f"{web.base}/healthz"
    wrk(healthz, "get", "200", connections=8, seconds=2)  # warm every thread of both processes
    client = who[0]
    watch = {"web": web.process.pid, "worker": processes.worker.pid}
    for n in CONCURRENCIES:
        out.bare[n] = wrk(healthz, "get", "200", connections=n, watch=watch)
        out.cached[n] = wrk(
            web.base + client.path, "post", "200", client.scheme, client.secret, client.body, connections=n, watch=watch
        )
    out.single_bare = wrk(healthz, "get", "200", connections=1, seconds=max(3, SECONDS // 2))
    for asker in who:
        out.single[asker.name] = wrk(
            web.base + asker.path,
            "post",
            "200",
            asker.scheme,
            asker.secret,
            asker.body,
            connections=1,
            seconds=max(3, SECONDS // 2),
        )
    out.uncached = wrk(
        web.base, "flow", client.scheme, client.secret, ",".join(map(str, jobs)), connections=8, watch=watch
    )
    out.celery = celery_noop_rate(processes)
    for asker in _missed_credentials(out, who):
        out.profiles[asker.name] = profile(web.env, asker)
    if _cached_missed(out):
        out.profiles.setdefault(client.name, profile(web.env, client))
    return out


def _cached_missed(t: Throughput) -> bool:
    return any(t.cached[n].rate < CACHED_SHARE_OF_BARE * t.bare[n].rate for n in CONCURRENCIES)


def _missed_credentials(t: Throughput, who: list[Asker]) -> list[Asker]:
    assert t.single_bare is not None
    return [a for a in who if t.single[a.name].p50 > CREDENTIAL_LATENCY_VS_BARE * t.single_bare.p50]


def profile(env: dict, asker: Asker) -> str:
    """Where one cached answer's time goes, in-process (throughput_profile.py), as one line of text."""
    probe_env = {**env, "BENCH_PROFILE": json.dumps(asker.__dict__)}
    r = run_probe(probe_env, "scripts.bench.throughput_profile")
    top = ", ".join(f"{name} {share:.0%}" for name, share in r["top"])
    return (
        f"in-process {r['per_request_ms']:.3f} ms per answer vs {r['healthz_ms']:.3f} ms for /healthz; "
        f"own time by package: {top}"
    )


def report(report: Report, t: Throughput) -> None:
    if t.missing:
        report.record("throughput under concurrency", "not measured", f"({t.missing})")
        report.verdict("throughput under concurrency measured (wrk installed)", "wrk missing", False)
        return
    report.record(f"throughput (wrk, gunicorn {t.web_layout} as start-web.sh, worker -c 2)", "", "")
    for n in CONCURRENCIES:
        bare, cached = t.bare[n], t.cached[n]
        share = cached.rate / bare.rate
        report.record(
            f"  bare GET /healthz, {n} clients (baseline)",
            f"{bare.rate:,.0f} req/s",
            f"{_lat(bare)[:-1]}; {bare.cpu_per(bare.requests)})",
        )
        report.record(
            f"  cached answer, client token (fast path), {n} clients",
            f"{cached.rate:,.0f} req/s",
            f"({share:.0%} of bare; {cached.rate / t.celery:.2f}x the Celery no-op; {_lat(cached)[1:-1]}; "
            f"{cached.cpu_per(cached.requests)})",
        )
        report.verdict(f"cached >= 70% of bare /healthz at {n} clients", f"{share:.0%}", share >= CACHED_SHARE_OF_BARE)
    u = t.uncached
    assert u is not None and t.single_bare is not None
    bare8 = t.bare[8].rate
    report.record(
        "  uncached end to end (POST, then GET ?wait), 8 clients",
        f"{u.flows_rate:,.0f} questions/s",
        f"({u.flows_rate / bare8:.0%} of bare /healthz; {u.flows_rate / t.celery:.0%} of the Celery no-op; "
        f"per request {_lat(u)[1:-1]}; {u.unfinished} unfinished after the wait)",
    )
    report.verdict("uncached >= 250/s at 8 clients", f"{u.flows_rate:,.0f}/s", u.flows_rate >= UNCACHED_PER_SECOND)
    if u.flows_rate < UNCACHED_PER_SECOND:
        report.record(
            "  where the time goes, uncached",
            "CPU per question",
            f"({u.cpu_per(u.finished)}: the two cores are shared by wrk, PostgreSQL, Redis and other sessions; "
            f"at this CPU per question the web and worker alone allow "
            f"{2 / max(sum(u.cpu.values()) / max(u.finished, 1), 1e-9):,.0f} questions/s on two free cores)",
        )
    report.record("  bare Celery no-op, 8 client threads (baseline)", f"{t.celery:,.0f} tasks/s")
    report.record(
        "  bare GET /healthz, one client (baseline)", f"{t.single_bare.p50:.2f} ms median", _lat(t.single_bare)
    )
    for name, run in t.single.items():
        ratio = run.p50 / t.single_bare.p50
        report.record(
            f"  cached answer, {name}, one client", f"{run.p50:.2f} ms median", f"({ratio:.1f}x bare; {_lat(run)[1:]}"
        )
        report.verdict(
            f"cached answer, {name} <= 1.5x the bare round trip", f"{ratio:.1f}x", ratio <= CREDENTIAL_LATENCY_VS_BARE
        )
    errors = sum(r.errors for r in [*t.bare.values(), *t.cached.values(), u, *t.single.values()])
    report.record("  errors in every throughput run (sockets, other statuses)", f"{errors}")
    for name, where in t.profiles.items():
        report.record(f"  where the time goes, {name}", "profiled", f"({where})")


def _lat(r: WrkRun) -> str:
    return f"(p50 {r.p50:.2f} ms, p90 {r.p90:.2f} ms, p99 {r.p99:.2f} ms)"
