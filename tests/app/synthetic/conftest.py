"""Fixtures for the synthetic-marketplace tests: a small world generated through the command."""

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command

SMALL_WORLD = ("--jobs", "300", "--cleaners", "30", "--clients", "60")


@pytest.fixture
def generate() -> Callable[..., str]:
    """Run `generate_training_data` on a small world; extra arguments are appended. Returns stdout."""

    def run(*args: str) -> str:
        out = StringIO()
        call_command("generate_training_data", *SMALL_WORLD, *args, stdout=out)
        return out.getvalue()

    return run
