"""Start scripts run against stub `python`, `gunicorn` and `celery` executables that record their calls."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import ROOT

STUB = """#!/bin/sh
{ printf '%s' "$$"; for arg in "$(basename "$0")" "$@"; do printf '\\t%s' "$arg"; done; echo; } >> "$CALLS_LOG"
"""


def run_script(script: str, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run a start script with stub executables; return the result and the recorded calls.

    Each call is [program, *args]; the last one also says whether it was exec'd (same pid).
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("python", "gunicorn", "celery"):
        (bin_dir / program).write_text(STUB)
        (bin_dir / program).chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    process = subprocess.Popen(
        [str(ROOT / "scripts" / script)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS_LOG": str(log), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=30)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    calls = [line.split("\t") for line in log.read_text().splitlines()]
    if calls:
        assert calls[-1][0] == str(process.pid), f"{script} runs {calls[-1][1]} without exec"
    return result, [call[1:] for call in calls]
