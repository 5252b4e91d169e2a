"""A live gunicorn for the tests that only show behind the real server, and a raw HTTP client.

`live_web` starts the web on a free loopback port, either exactly as the containers do
(`scripts/start-web.sh`, production settings) or as `make run` does (`scripts/dev.py`), on the
test database and Redis, and stops it afterwards. `raw` sends bytes as written, so that a test
can send what no HTTP library would: chunked bodies, truncated bodies, oversized headers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveWeb:
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_until_up(proc: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError):
            status, _, _ = raw(
                port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout=2
            )
            if status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the web did not answer within {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def live_web(
    env: dict[str, str], tmp_path: Path, *, how: str = "start-web.sh", overrides: dict[str, str] | None = None
) -> Iterator[LiveWeb]:
    """The web on a free port, started by `how`: "start-web.sh" (the containers' way) or "dev.py" (`make run`'s).

    `overrides`: environment set last (the fault tests run start-web.sh with the test settings).
    """
    port = free_port()
    log = tmp_path / "web.log"
    # XDG_RUNTIME_DIR: gunicorn's control socket goes there, not to the one ~/.gunicorn/gunicorn.ctl
    # that every gunicorn of this user on the machine would share.
    env = {
        **env,
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', os.defpath)}",
        "XDG_RUNTIME_DIR": str(tmp_path),
    }
    if how == "start-web.sh":
        command = [str(ROOT / "scripts" / "start-web.sh")]
        env.update(
            {
                "WEB_BIND": f"127.0.0.1:{port}",
                "WEB_WORKERS": "1",
                "WEB_THREADS": "4",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "DJANGO_SECRET_KEY": "live-test-only-" + "x" * 40,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_COOKIES": "false",
            }
        )
    else:
        from scripts import dev

        env = dev.environment({k: v for k, v in env.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG")})
        command = dev.web_command(port)
        (tmp_path / "metrics").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    env.update(overrides or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_up(proc, port, log)
        yield LiveWeb(port=port, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def raw(
    port: int, request: bytes, *, half_close: bool = False, timeout: float = 15
) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as written; (status, headers with lower-case names, body) of the answer.

    `half_close`: shut our side down after sending, as a client that went away would.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            # The server answered before reading all we sent (a 413 for a body over the limit, which
            # it refuses by its Content-Length) and closed: what it answered is what counts.
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass  # the answer came before the reset; an empty one fails below
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out, body = out + rest[:n], rest[n + 2 :]
    return out


def http(
    method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> bytes:
    """An ordinary request, with Content-Length, as bytes for `raw`."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + body
