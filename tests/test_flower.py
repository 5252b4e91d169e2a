"""Flower, the Celery monitor: always behind basic auth, a version without the CSRF flaw, and
nothing secret in what it shows (task arguments are ids and numbers only)."""

from __future__ import annotations

import base64
import importlib.metadata
import inspect
import io
import os
import re
import subprocess
import sys
import time
import typing
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from scripts import healthcheck
from tests.support import ROOT
from tests.support.net import free_port
from tests.support.scripts import run_script

MINIMUM = (2, 2, 0)  # 2.1 and older: CSRF in the control endpoints


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_it_pins_a_flower_without_the_csrf_flaw() -> None:
    pins = re.findall(r"^flower==(\S+)", (ROOT / "requirements" / "web.txt").read_text(), re.MULTILINE)
    assert len(pins) == 1, "pin flower exactly once in requirements/web.txt (the web image runs it)"
    assert _version(pins[0]) >= MINIMUM
    assert _version(importlib.metadata.version("flower")) >= MINIMUM


@pytest.mark.parametrize("compose", ["docker-compose.dev.yml", "docker-compose.prod.yml"])
def test_it_starts_flower_with_required_basic_auth_on_loopback(compose: str) -> None:
    flower = yaml.safe_load((ROOT / compose).read_text())["services"]["flower"]
    assert flower["command"] == ["scripts/start-flower.sh"]
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?[^}]+\}", flower["environment"]["FLOWER_BASIC_AUTH"]), (
        "compose must refuse to start without FLOWER_BASIC_AUTH"
    )
    assert all(str(port).startswith("127.0.0.1:") for port in flower.get("ports", [])), (
        "publish Flower on loopback only"
    )


def test_its_start_script_refuses_to_run_without_basic_auth(tmp_path: Path) -> None:
    for i, value in enumerate(["", "admin", ":pw", "admin:"]):
        (tmp_path / str(i)).mkdir()
        result, calls = run_script("start-flower.sh", tmp_path / str(i), FLOWER_BASIC_AUTH=value)
        assert result.returncode == 1 and calls == [], value
        assert "FLOWER_BASIC_AUTH" in result.stderr


def test_its_start_script_passes_the_basic_auth(tmp_path: Path) -> None:
    result, calls = run_script("start-flower.sh", tmp_path, FLOWER_BASIC_AUTH="ops:s3cret")
    assert result.returncode == 0, result.stderr
    [call] = calls
    assert call[:4] == ["celery", "-A", "workers.celery", "flower"]
    assert "--basic-auth=ops:s3cret" in call
    assert "--conf=config/flower.py" in call  # every path behind the basic auth


def test_make_run_starts_flower_with_basic_auth_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts import dev

    started: dict[str, tuple[list[str], dict]] = {}

    class FakePopen:
        def __init__(self, cmd: list[str], env: dict, **kwargs) -> None:
            name = (
                "flower"
                if "flower" in cmd
                else "web"
                if any("gunicorn" in c for c in cmd)
                else "beat"
                if "beat" in cmd
                else "trainer"
                if "-Q" in cmd and cmd[cmd.index("-Q") + 1] == "training"
                else "webhooks"
                if "-Q" in cmd and cmd[cmd.index("-Q") + 1] == "webhooks"
                else "worker"
            )
            started[name] = (cmd, env)
            self.stdout, self.pid = io.BytesIO(b""), 0

    monkeypatch.setattr(dev, "ROOT", tmp_path)
    monkeypatch.setattr(dev.subprocess, "Popen", FakePopen)
    dev.start_all({"FLOWER_BASIC_AUTH": "admin:generated"})

    flower, _ = started["flower"]
    assert "--basic-auth=admin:generated" in flower and "--address=127.0.0.1" in flower
    assert "--conf=config/flower.py" in flower
    # While here: each process gets the metrics settings it needs (see workers/metrics.py).
    assert started["web"][1]["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "var" / "web-metrics")
    ports = {started[w][1]["WORKER_METRICS_PORT"] for w in ("worker", "trainer", "webhooks")}
    assert len(ports) == 3, "three workers on one host need three metrics ports"
    assert "PROMETHEUS_MULTIPROC_DIR" not in started["worker"][1]


def test_make_run_generates_flower_credentials_when_none_are_given() -> None:
    source = (ROOT / "scripts" / "dev.py").read_text()
    assert 'env.setdefault("FLOWER_BASIC_AUTH", f"admin:{secrets.token_urlsafe(12)}")' in source


# What Flower shows: every task's arguments -----------------------------------------------------

# A task may take ids (`*_id`, `ids`, a model `version`) and numbers or flags: anything else
# (a URL, an email, a secret, a payload) would be on display in Flower to everyone who can see it.
NUMERIC = {int, float, bool, type(None)}
SECRET_NAMES = re.compile(r"secret|password|token|key|auth|credential|url|email|payload|body|header", re.IGNORECASE)


def _allowed(name: str, annotation: object) -> bool:
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType)
        else (annotation,)
    )
    for arg in args:
        if arg in NUMERIC:
            continue
        if typing.get_origin(arg) is list and typing.get_args(arg) == (int,):
            continue
        if arg is str and (name.endswith("_id") or name == "version"):
            continue
        return False
    return True


def test_every_task_takes_ids_and_numbers_only() -> None:
    import workers.tasks  # noqa: F401  (registers every task, as the worker does)
    from workers import names
    from workers.celery import app

    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert set(ours) == set(names.TASK_QUEUES), "every task is named and routed in workers/names.py"
    problems = []
    for name, task in sorted(ours.items()):
        hints = typing.get_type_hints(task.run)
        for param in inspect.signature(task.run).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                problems.append(f"{name}: *{param.name} could carry anything")
            elif param.name not in hints:
                problems.append(f"{name}: annotate {param.name}")
            elif SECRET_NAMES.search(param.name) or not _allowed(param.name, hints[param.name]):
                problems.append(f"{name}: {param.name}: {hints[param.name]}")
    assert not problems, "tasks must take ids and numbers only; load the rest by id in the task: " + "; ".join(problems)


# Flower itself ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_flower_refuses_requests_without_the_password(settings) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "FLOWER_BASIC_AUTH": "ops:s3cret-pw",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery",
            "flower",
            f"--port={port}",
            "--address=127.0.0.1",
            f"--basic-auth={env['FLOWER_BASIC_AUTH']}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/workers"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "Flower did not start"
                time.sleep(0.2)
                continue
            break
        assert status == 401, "Flower answered without credentials"
        wrong = urllib.request.Request(
            url, headers={"Authorization": "Basic " + base64.b64encode(b"ops:nope").decode()}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wrong, timeout=5)
        assert refused.value.code == 401
        right = urllib.request.Request(
            url, headers={"Authorization": "Basic " + base64.b64encode(b"ops:s3cret-pw").decode()}
        )
        assert urllib.request.urlopen(right, timeout=10).status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _flower_paths() -> list[str]:
    """A concrete path for every entry of Flower's URL table (its groups filled in)."""
    from flower.urls import handlers

    paths = []
    for handler in handlers:
        pattern = handler.regex.pattern if hasattr(handler, "regex") else handler[0]
        path = re.sub(r"\(\.[+*]\)", "x", pattern.rstrip("$")).replace("/?", "").replace(".*", "anything")
        paths.append(path if path.startswith("/") else "/" + path)  # ".*": Flower's catch-all 404
    return paths


@pytest.mark.slow
def test_every_flower_path_but_its_static_files_needs_the_password(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts import dev

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "REDIS_URL": settings.REDIS_URL}
    proc = subprocess.Popen(
        dev.flower_command(port, "ops:s3cret-pw"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def status(path: str, credentials: bytes | None = None) -> int:
        headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode()} if credentials else {}
        try:
            return urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers), timeout=10
            ).status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status("/healthcheck")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "Flower did not start"
                time.sleep(0.2)
        paths = _flower_paths()
        assert {"/metrics", "/healthcheck", "/api/workers", "/logout", "/anything"} <= set(paths), paths
        answered = {path: status(path) for path in paths}
        public = {path for path in paths if path.startswith("/static/")}
        assert {path: code for path, code in answered.items() if path not in public and code != 401} == {}
        assert status("/metrics", b"ops:wrong") == 401
        assert status("/metrics", b"ops:s3cret-pw") == 200
        assert status("/healthcheck", b"ops:s3cret-pw") == 200
        assert status("/static/css/flower.css") == 200  # Flower's own stylesheet: public, says nothing
        # The container's health check (scripts/healthcheck.py) proves the first pair of credentials.
        monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:s3cret-pw,other:pw")
        assert healthcheck.flower_healthy(port)
        monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:wrong")
        assert not healthcheck.flower_healthy(port)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
