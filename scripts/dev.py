"""`make run`: the whole service in one terminal on embedded defaults.

Starts (or uses) Redis, migrates, seeds a demo marketplace and trains a first model when the
database is empty, then runs web, worker, webhooks, trainer, beat and Flower side by side with
prefixed output. Ctrl-C stops them all. DATABASE_URL / REDIS_URL select real servers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.embedded import embedded_redis  # noqa: E402

PY = sys.executable
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
FLOWER_PORT = int(os.environ.get("FLOWER_PORT", "5555"))
WORKER_METRICS_PORT = int(
    os.environ.get("WORKER_METRICS_PORT", "9808")
)  # the trainer's and webhooks' are the next ones
DEFAULT_REDIS_PORT = 6399  # the settings' default REDIS_URL points here


def manage(*args: str, env: dict) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def prepare(env: dict) -> str:
    """Migrate; seed and train when empty; return a demo line to print."""
    manage("migrate", "--noinput", env=env)
    code = (
        "import django; django.setup();"
        "from app.marketplace.models import CleaningJob; print(CleaningJob.objects.exists())"
    )
    has_data = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    if has_data.stdout.strip() != "True":
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        print("Empty database: seeding a demo marketplace...", flush=True)
        manage(
            "generate_training_data",
            "--jobs",
            "2000",
            "--cleaners",
            "150",
            "--clients",
            "300",
            "--seed",
            "42",
            "--reference-date",
            today,
            env=env,
        )
        manage("reset_sequences", env=env)
    models_dir = Path(env.get("RECOMMENDATION_MODELS_DIR", ROOT / "var" / "models"))
    if not (models_dir / "ACTIVE").exists():
        print("No active model: training a first one...", flush=True)
        version = datetime.now(UTC).strftime("%Y.%m.%d.%H%M%S")
        manage("train_recommendation_model", "--model-version", version, env=env)
    with contextlib.suppress(subprocess.CalledProcessError):
        manage("setup_schedules", env=env)
    code = (
        "import django; django.setup();"
        "from app.marketplace.models import CleaningJob;"
        "from rest_framework.authtoken.models import Token;"
        "j = CleaningJob.objects.filter(status='open_for_bids').order_by('scheduled_start').select_related('client').first();"
        "print(Token.objects.get(user_id=j.client.user_id).key, j.pk) if j else print('')"
    )
    return subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def _pump(name: str, stream, lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        with lock:
            sys.stdout.write(f"{name:>7} | {line.decode(errors='replace')}")
            sys.stdout.flush()


# As scripts/start-web.sh: gunicorn's default access log format plus the request id.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'


def web_command(port: int) -> list[str]:
    """The web, as scripts/start-web.sh runs it but on loopback, with fewer knobs.

    The access log is every request's one line: Django logs only 5xx on top (config/settings/base.py).
    """
    return [
        PY,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        "2",
        "--threads",
        "32",
        "--timeout",
        "60",
        *(["--worker-tmp-dir", "/dev/shm"] if os.path.isdir("/dev/shm") else []),
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
    ]


def flower_command(port: int, basic_auth: str) -> list[str]:
    """Flower as scripts/start-flower.sh runs it (config/flower.py: every path behind the basic auth), on loopback."""
    return [
        PY,
        "-m",
        "celery",
        "-A",
        "workers.celery",
        "flower",
        "--conf=config/flower.py",
        f"--port={port}",
        "--address=127.0.0.1",
        f"--basic-auth={basic_auth}",
    ]


CELERY = [PY, "-m", "celery", "-A", "workers.celery"]


def worker_commands() -> dict[str, list[str]]:
    """The Celery workers, as the containers run them (scripts/start-worker.sh, start-trainer.sh).

    Webhook deliveries have a worker of their own, never in front of recommendations: an attempt
    waits up to WEBHOOK_TIMEOUT on somebody else's server. A thread pool (one light process, no
    model) keeps that cheap on a small machine; each receiver gets a few of its threads at most.
    """
    return {
        "worker": [
            *CELERY,
            "worker",
            "-l",
            "INFO",
            "-Q",
            "recommendations,feedback,maintenance",
            "-c",
            "2",
            "--prefetch-multiplier=1",
            "-O",
            "fair",
            "-n",
            "worker@%h",
        ],
        "webhooks": [
            *CELERY,
            "worker",
            "-l",
            "INFO",
            "-Q",
            "webhooks",
            "-P",
            "threads",
            "-c",
            "8",
            "--prefetch-multiplier=1",
            "-n",
            "webhooks@%h",
        ],
        "trainer": [*CELERY, "worker", "-l", "INFO", "-Q", "training", "-c", "1", "-n", "trainer@%h"],
    }


def start_all(env: dict) -> list[tuple[str, subprocess.Popen]]:
    commands = {
        "web": web_command(WEB_PORT),
        **worker_commands(),
        "beat": [
            *CELERY,
            "beat",
            "-l",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile=",
        ],
        "flower": flower_command(FLOWER_PORT, env["FLOWER_BASIC_AUTH"]),
    }
    # The web's gunicorn workers add up their metrics in one directory (emptied first); the
    # Celery workers on this host each serve theirs on their own port, on loopback only.
    web_metrics = ROOT / "var" / "web-metrics"
    shutil.rmtree(web_metrics, ignore_errors=True)
    web_metrics.mkdir(parents=True)
    own_env = {
        "web": {"PROMETHEUS_MULTIPROC_DIR": str(web_metrics)},
        "worker": {"WORKER_METRICS_PORT": str(WORKER_METRICS_PORT), "WORKER_METRICS_ADDR": "127.0.0.1"},
        "trainer": {"WORKER_METRICS_PORT": str(WORKER_METRICS_PORT + 1), "WORKER_METRICS_ADDR": "127.0.0.1"},
        "webhooks": {"WORKER_METRICS_PORT": str(WORKER_METRICS_PORT + 2), "WORKER_METRICS_ADDR": "127.0.0.1"},
    }
    lock = threading.Lock()
    procs = []
    for name, cmd in commands.items():
        p = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**env, **own_env.get(name, {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=_pump, args=(name, p.stdout, lock), daemon=True).start()
        procs.append((name, p))
    return procs


def stop_all(procs: list[tuple[str, subprocess.Popen]]) -> None:
    for _, p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for _, p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def serve(env: dict) -> int:
    demo = prepare(env)
    procs = start_all(env)
    user, password = env["FLOWER_BASIC_AUTH"].split(":", 1)
    base = f"http://127.0.0.1:{WEB_PORT}"
    lines = [
        "",
        "Recommendation service is up:",
        f"  API          {base}/api/v1/",
        f"  API docs     {base}/api/docs/",
        f"  Admin        {base}/admin/",
        f"  Operations   {base}/ops/   (an operator or superuser, logged in through the admin)",
        f"  Metrics      {base}/metrics, worker http://127.0.0.1:{WORKER_METRICS_PORT}/metrics,"
        f" trainer http://127.0.0.1:{WORKER_METRICS_PORT + 1}/metrics,"
        f" webhooks http://127.0.0.1:{WORKER_METRICS_PORT + 2}/metrics",
        f"  Flower       http://127.0.0.1:{FLOWER_PORT}/   (user {user}, password {password})",
    ]
    if demo:
        token, job_id = demo.split()
        lines += [
            "",
            'Demo accounts (made by generate_training_data; password "demo"; a production web refuses to',
            "start while any keeps it):",
            "  operator                 staff operator: the admin, /ops/, model activation and retrains",
            "  client0001 ... client0500, cleaner0001 ... cleaner0200   (a client's and a cleaner's view)",
        ]
        lines += [
            "",
            "Try it (a demo client's token and one of their open jobs):",
            f"  curl -s -X POST -H 'Authorization: Token {token}' -H 'Content-Type: application/json' "
            f"-d '{{\"limit\": 5}}' {base}/api/v1/jobs/{job_id}/recommendations/",
            f"  curl -s -H 'Authorization: Token {token}' '<status_url from above>?wait=5'",
        ]
    lines += ["", "Ctrl-C stops everything.", ""]
    time.sleep(2)
    print("\n".join(lines), flush=True)
    try:
        while all(p.poll() is None for _, p in procs):
            time.sleep(0.5)
        for name, p in procs:
            if p.poll() is not None:
                print(f"{name} exited with {p.returncode}; stopping the rest", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        stop_all(procs)


def _terminate(signum, frame) -> None:
    # `kill` or a supervisor's stop: shut down exactly as on Ctrl-C.
    raise KeyboardInterrupt


def environment(base: dict) -> dict:
    """The environment every process of `make run` starts from."""
    env = {**base}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # The demo answers as production does: problem+json errors, never Django's debug pages (they
    # list the URL patterns and print the settings). DJANGO_DEBUG=1 asks for them.
    env.setdefault("DJANGO_DEBUG", "0")
    env.setdefault("FLOWER_BASIC_AUTH", f"admin:{secrets.token_urlsafe(12)}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    env = environment(os.environ)
    (ROOT / "var").mkdir(exist_ok=True)
    if env.get("REDIS_URL"):
        return serve(env)
    port = DEFAULT_REDIS_PORT if _port_free(DEFAULT_REDIS_PORT) else None
    with embedded_redis(port=port) as url:
        print(f"embedded Redis at {url}", flush=True)
        env["REDIS_URL"] = url
        return serve(env)


if __name__ == "__main__":
    sys.exit(main())
