"""System checks: refuse a malformed A/B test configuration at start-up, not on the first request.

Errors while the test is enabled (the service would otherwise fail requests or serve the wrong
thing); the same problems are warnings while it is off, so they are fixed before it is turned on.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from app.recommendations.experiments import variant_spec_parse
from app.recommendations.models import Mode


@checks.register(checks.Tags.compatibility)
def ab_test_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    enabled = bool(getattr(settings, "RECOMMENDATION_AB_TEST_ENABLED", False))
    level = checks.Error if enabled else checks.Warning
    prefix = "E" if enabled else "W"
    problems: list[checks.CheckMessage] = []

    split = getattr(settings, "RECOMMENDATION_AB_TEST_SPLIT", 0.5)
    if not isinstance(split, (int, float)) or isinstance(split, bool) or not 0 <= split <= 1:
        problems.append(
            level(
                f"RECOMMENDATION_AB_TEST_SPLIT is {split!r}; it must be a number from 0 to 1 "
                "(the share of clients served by variant B).",
                hint="For an even split set RECOMMENDATION_AB_TEST_SPLIT=0.5.",
                id=f"recommendations.{prefix}001",
            )
        )
    name = getattr(settings, "RECOMMENDATION_AB_TEST_NAME", "")
    if not isinstance(name, str) or not name.strip():
        problems.append(
            level(
                "RECOMMENDATION_AB_TEST_NAME is empty; it names the experiment and seeds the assignment.",
                hint="Set e.g. RECOMMENDATION_AB_TEST_NAME=neural-vs-ensemble-2025-06.",
                id=f"recommendations.{prefix}002",
            )
        )
    pins_model = False
    for variant in ("A", "B"):
        setting = f"RECOMMENDATION_AB_VARIANT_{variant}"
        try:
            spec = variant_spec_parse(getattr(settings, setting, ""))
        except ValueError as exc:
            problems.append(
                level(
                    f"{setting}: {exc}.",
                    hint=f"Examples: {setting}=mode:neural, {setting}=mode:ensemble, {setting}=model:20250601.",
                    id=f"recommendations.{prefix}003",
                )
            )
        else:
            pins_model = pins_model or bool(spec.model_version)
    if enabled and pins_model and settings.RECOMMENDATION_MODE == Mode.RULE_BASED:
        problems.append(
            checks.Warning(
                "A variant pins a model version but RECOMMENDATION_MODE is rule_based, which uses no model: "
                "that variant would serve rule-based results.",
                hint="Set RECOMMENDATION_MODE to ensemble or neural, or use 'mode:<mode>' variants.",
                id="recommendations.W004",
            )
        )
    return problems


@checks.register()
def request_sweep_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The sweeper re-claims a `running` request only once its run must be over (workers/recommend/sweeper.py).

    A deadline at or below the task's hard time limit would re-run requests still computing:
    the live run's results dropped, an attempt spent, and at the cap the request failed. A
    warning, not an error: a test may shorten the deadline for runs it knows are short.
    """
    running_after = settings.RECOMMENDATION_SWEEP_RUNNING_AFTER
    hard, soft = settings.RECOMMENDATION_TASK_TIME_LIMIT, settings.RECOMMENDATION_TASK_SOFT_TIME_LIMIT
    if running_after > hard >= soft > 0:
        return []
    return [
        checks.Warning(
            f"RECOMMENDATION_SWEEP_RUNNING_AFTER ({running_after:g} s) must exceed RECOMMENDATION_TASK_TIME_LIMIT "
            f"({hard:g} s), which must be at least RECOMMENDATION_TASK_SOFT_TIME_LIMIT ({soft:g} s), above 0.",
            hint="Raise RECOMMENDATION_SWEEP_RUNNING_AFTER with the time limit (the defaults: 90, 60 and 30).",
            id="recommendations.W005",
        )
    ]
