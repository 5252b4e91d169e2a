"""The fault tests' fixtures: a PostgreSQL cluster of the session's own, and a stack per test."""

from __future__ import annotations

import pytest

from tests.support.stack import Cluster, Stack, fault_cluster  # noqa: F401  (a fixture)


@pytest.fixture
def stack(fault_cluster: Cluster, tmp_path, request):
    """The service on throwaway servers; `@pytest.mark.stack(aof=..., env={...})` configures it."""
    marker = request.node.get_closest_marker("stack")
    with Stack(fault_cluster, tmp_path, **(marker.kwargs if marker else {})).running() as running:
        yield running
