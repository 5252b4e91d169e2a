"""The fault tests' fixtures: a PostgreSQL cluster of the session's own, and a stack per test."""

from __future__ import annotations

import pytest

from tests.support import stack as stacks

fault_cluster = stacks.fault_cluster  # the session's cluster (a fixture of tests/support/stack.py)


@pytest.fixture
def stack(fault_cluster: stacks.Cluster, tmp_path, request):
    """The service on throwaway servers; `@pytest.mark.stack(aof=..., env={...})` configures it."""
    marker = request.node.get_closest_marker("stack")
    options = dict(marker.kwargs) if marker else {}
    if callable(options.get("env")):  # a function of the seed (which job to break, say)
        options["env"] = options["env"](fault_cluster.seed)
    with stacks.Stack(fault_cluster, tmp_path, **options).running() as running:
        yield running
