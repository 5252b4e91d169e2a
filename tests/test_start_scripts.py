"""scripts/start-web.sh prepares prometheus_client's multiprocess directory for gunicorn; `make run`'s workers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import ROOT

# Records the directory gunicorn was started with, and what was in it then.
STUB = """#!/bin/sh
if [ "$(basename "$0")" = gunicorn ]; then
    echo "$PROMETHEUS_MULTIPROC_DIR" > "$OUT"
    ls "$PROMETHEUS_MULTIPROC_DIR" >> "$OUT"
fi
"""


def _run(tmp_path: Path, **env: str) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("python", "gunicorn"):
        (bin_dir / program).write_text(STUB)
        (bin_dir / program).chmod(0o755)
    out = tmp_path / "out"
    result = subprocess.run(
        [str(ROOT / "scripts" / "start-web.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "OUT": str(out), **env},
    )
    assert result.returncode == 0, result.stderr
    return out.read_text().splitlines()


def test_it_empties_the_metrics_directory_of_a_previous_run(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old counts")
    (directory / "histogram_124.db").write_bytes(b"old counts")
    (directory / "README").write_text("not ours: left alone")
    seen = _run(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert seen == [str(directory), "README"]


def test_it_uses_a_directory_under_tmp_by_default(tmp_path: Path) -> None:
    seen = _run(tmp_path, TMPDIR=str(tmp_path))
    assert seen == [str(tmp_path / "recsvc-web-metrics")]
    assert (tmp_path / "recsvc-web-metrics").is_dir()


def test_make_run_gives_webhooks_a_worker_of_their_own() -> None:
    """No process of `make run` takes a webhook delivery where a recommendation could wait behind it."""
    from scripts import dev
    from workers.names import Queue

    queues = {name: set(cmd[cmd.index("-Q") + 1].split(",")) for name, cmd in dev.worker_commands().items()}
    assert set().union(*queues.values()) == {str(q) for q in Queue}, queues
    assert queues["webhooks"] == {"webhooks"}
    assert not any("webhooks" in q and "recommendations" in q for q in queues.values()), queues
    webhooks = dev.worker_commands()["webhooks"]
    assert webhooks[webhooks.index("-P") + 1] == "threads", "one light process: the work is waiting"
