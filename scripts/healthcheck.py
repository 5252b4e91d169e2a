"""Container health checks: `python -m scripts.healthcheck web|flower|worker|trainer`, 0 when healthy.

Each asks the process in its own container, with only what the image already has:

- `web`: `GET /healthz` (no database, no Redis) on the port of `WEB_BIND`, with a Host header the
  settings allow: a refused Host would answer 400 and log an error on every check.
- `flower`: `GET /healthcheck` under `FLOWER_URL_PREFIX`, with the first `user:password` of
  `FLOWER_BASIC_AUTH`: config/flower.py puts every Flower path behind the basic auth, this one too.
- `worker`, `trainer`: a ping through the broker to this container's own node (the name the start
  script gives it), so a worker that lost Redis or stopped consuming is unhealthy.

The compose files run it every few seconds; keep it cheap (the worker checks import Celery only).
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import sys

# The node names scripts/start-worker.sh and start-trainer.sh give their workers (`NAME@%h`).
NODE_NAME_VARIABLES = {"worker": ("WORKER_NAME", "worker"), "trainer": ("TRAINER_NAME", "trainer")}


def allowed_host() -> str:
    """A host name DJANGO_ALLOWED_HOSTS accepts ('.example.com' allows example.com; '*' anything)."""
    first = os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")[0].strip()
    return first.lstrip(".") if first and first != "*" else "localhost"


def http_ok(port: int, path: str, host: str = "localhost", headers: dict | None = None) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host, **(headers or {})})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def web_healthy() -> bool:
    port = int(os.environ.get("WEB_BIND", "0.0.0.0:8000").rpartition(":")[2])
    return http_ok(port, "/healthz", host=allowed_host())


def flower_auth_headers() -> dict:
    """The Authorization header for the first pair of FLOWER_BASIC_AUTH ('user:pw[,user2:pw2]')."""
    first = os.environ.get("FLOWER_BASIC_AUTH", "").split(",")[0].strip()
    return {"Authorization": "Basic " + base64.b64encode(first.encode()).decode()} if first else {}


def flower_healthy(port: int = 5555) -> bool:
    prefix = os.environ.get("FLOWER_URL_PREFIX", "").strip("/")
    path = f"/{prefix}/healthcheck" if prefix else "/healthcheck"
    return http_ok(port, path, headers=flower_auth_headers())


def worker_healthy(kind: str, timeout: float = 5) -> bool:
    from workers.celery import app

    variable, default = NODE_NAME_VARIABLES[kind]
    node = f"{os.environ.get(variable) or default}@{socket.gethostname()}"
    return bool(app.control.ping(destination=[node], timeout=timeout))


def main(argv: list[str]) -> int:
    kinds = ["web", "flower", *NODE_NAME_VARIABLES]
    if len(argv) != 1 or argv[0] not in kinds:
        print(f"usage: python -m scripts.healthcheck {'|'.join(kinds)}", file=sys.stderr)
        return 2
    kind = argv[0]
    if kind == "web":
        healthy = web_healthy()
    elif kind == "flower":
        healthy = flower_healthy()
    else:
        healthy = worker_healthy(kind)
    print("healthy" if healthy else "unhealthy")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
