"""System checks for the webhook settings: mistakes surface at `manage.py check`, not at 3 a.m."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def webhook_settings_check(app_configs, **kwargs) -> list:
    problems = []
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if not schedule or any(step < 0 for step in schedule):
        problems.append(
            Error(
                "WEBHOOK_RETRY_SCHEDULE must be a non-empty list of seconds, none negative.",
                hint="For example: WEBHOOK_RETRY_SCHEDULE=5,30,120,600,1800,3600,7200,14400,28800",
                id="webhooks.E001",
            )
        )
    if not 0 < settings.WEBHOOK_TIMEOUT <= 25:
        problems.append(
            Error(
                "WEBHOOK_TIMEOUT must be between 0 and 25 seconds (the delivery task's soft limit is 30).",
                id="webhooks.E002",
            )
        )
    if settings.WEBHOOK_RECEIVER_CONCURRENCY < 1 or settings.WEBHOOK_BREAKER_FAILURES < 1:
        problems.append(
            Error(
                "WEBHOOK_RECEIVER_CONCURRENCY and WEBHOOK_BREAKER_FAILURES must be at least 1.",
                hint="With 0 no receiver would ever be tried.",
                id="webhooks.E003",
            )
        )
    if not 0 < settings.WEBHOOK_CONNECT_TIMEOUT <= settings.WEBHOOK_TIMEOUT or settings.WEBHOOK_BREAKER_COOLDOWN <= 0:
        problems.append(
            Error(
                "WEBHOOK_CONNECT_TIMEOUT must be above 0 and at most WEBHOOK_TIMEOUT; WEBHOOK_BREAKER_COOLDOWN above 0.",
                id="webhooks.E004",
            )
        )
    if settings.WEBHOOK_ALLOWED_HOSTS and not settings.DEBUG:
        problems.append(
            Warning(
                f"WEBHOOK_ALLOWED_HOSTS exempts {', '.join(settings.WEBHOOK_ALLOWED_HOSTS)} from the SSRF checks.",
                hint="Leave it empty in production: it exists for receivers on localhost in development and tests.",
                id="webhooks.W001",
            )
        )
    return problems
