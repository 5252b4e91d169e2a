"""The webhook settings are checked at `manage.py check`: a slot limit or breaker of 0 would send nothing."""

from __future__ import annotations

import pytest

from app.webhooks.checks import webhook_settings_check


def _ids() -> set[str]:
    return {problem.id for problem in webhook_settings_check(None)}


def test_the_defaults_pass(settings) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = []
    assert _ids() == set()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("WEBHOOK_RECEIVER_CONCURRENCY", 0, "webhooks.E003"),
        ("WEBHOOK_BREAKER_FAILURES", 0, "webhooks.E003"),
        ("WEBHOOK_CONNECT_TIMEOUT", 0, "webhooks.E004"),
        ("WEBHOOK_CONNECT_TIMEOUT", 11, "webhooks.E004"),  # above WEBHOOK_TIMEOUT (10)
        ("WEBHOOK_BREAKER_COOLDOWN", 0, "webhooks.E004"),
    ],
)
def test_it_refuses_settings_that_would_never_send(settings, name: str, value: float, expected: str) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = []
    settings.WEBHOOK_TIMEOUT = 10
    setattr(settings, name, value)
    assert _ids() == {expected}
