"""Where a cached answer's time goes: the request handled in this process, under cProfile.

Run by throughput.py (`python -m scripts.bench.throughput_profile`, BENCH_PROFILE naming the
credential and question) when a target is missed. Django's test client calls the same handler
gunicorn calls, with the same middleware, against the same database and Redis, without the
HTTP server and the network: what is left is the web's own work. Prints `RESULT=` JSON: the
time per answer in-process (unprofiled), the same for `/healthz`, and the share of the
profiled own time spent in each package.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import time
from collections import defaultdict

N = 1000


def _package(filename: str, function: str) -> str:
    """Who a function belongs to: a site-packages distribution, a project package, the standard library or C."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for root in ("/app/", "/config/", "/workers/"):
        if root in filename:
            rest = filename.split(root, 1)[1].split("/")
            return root.strip("/") + "." + ".".join(p.removesuffix(".py") for p in rest[:2])
    if filename.startswith("~") or filename.startswith("<"):
        # A C function, e.g. "<method 'recv_into' of '_socket.socket' objects>": waiting on a
        # socket (Redis, PostgreSQL) shows here as its own time.
        parts = function.split("'")
        return f"C {parts[3]}.{parts[1]}" if len(parts) >= 4 else f"C {function}"
    return "stdlib " + os.path.basename(filename).removesuffix(".py")


def main() -> None:
    import django

    django.setup()
    from django.test import Client

    asker = json.loads(os.environ["BENCH_PROFILE"])
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"{asker['scheme']} {asker['secret']}"}

    def ask() -> None:
        response = client.post(asker["path"], asker["body"], content_type="application/json", **headers)
        assert response.status_code == 200, response.content

    def healthz() -> None:
        assert client.get("/healthz").status_code == 200

    def per_call_ms(call) -> float:
        for _ in range(100):
            call()
        t = time.perf_counter()
        for _ in range(N):
            call()
        return (time.perf_counter() - t) * 1000 / N

    healthz_ms, per_request_ms = per_call_ms(healthz), per_call_ms(ask)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(N):
        ask()
    profiler.disable()
    own: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, tottime, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        own[_package(filename, function)] += tottime
    total = sum(own.values()) or 1.0
    top = sorted(own.items(), key=lambda kv: -kv[1])[:6]
    result = {"per_request_ms": per_request_ms, "healthz_ms": healthz_ms, "top": [(k, v / total) for k, v in top]}
    sys.stdout.write("RESULT=" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
