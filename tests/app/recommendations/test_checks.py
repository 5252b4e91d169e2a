"""The system check refuses a malformed A/B configuration with a message that says how to fix it."""

from django.core import checks
from django.core.management import call_command

from app.recommendations.checks import ab_test_settings_check


def _ids(messages: list) -> set[str]:
    return {m.id for m in messages}


def test_it_accepts_the_defaults(settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    assert ab_test_settings_check() == []


def test_it_reports_each_bad_setting_as_an_error_while_enabled(settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    settings.RECOMMENDATION_AB_TEST_SPLIT = 1.5
    settings.RECOMMENDATION_AB_TEST_NAME = " "
    settings.RECOMMENDATION_AB_VARIANT_B = "neural"

    messages = ab_test_settings_check()

    assert _ids(messages) == {"recommendations.E001", "recommendations.E002", "recommendations.E003"}
    assert all(m.level == checks.ERROR for m in messages)
    variant = next(m for m in messages if m.id == "recommendations.E003")
    assert "RECOMMENDATION_AB_VARIANT_B: 'neural' is not a variant" in variant.msg
    assert "mode:<rule_based|neural|ensemble>" in variant.msg and "model:<version>" in variant.msg


def test_it_only_warns_while_the_test_is_off(settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = False
    settings.RECOMMENDATION_AB_VARIANT_A = "mode:fast"
    messages = ab_test_settings_check()
    assert _ids(messages) == {"recommendations.W003"}
    assert messages[0].level == checks.WARNING


def test_it_warns_that_a_pinned_model_is_unused_in_rule_based_mode(settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    settings.RECOMMENDATION_AB_VARIANT_B = "model:20250601"
    settings.RECOMMENDATION_MODE = "rule_based"
    assert _ids(ab_test_settings_check()) == {"recommendations.W004"}


def test_it_is_registered_with_djangos_check_framework(settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    settings.RECOMMENDATION_AB_TEST_SPLIT = -0.1
    try:
        call_command("check")
    except Exception as exc:
        assert "recommendations.E001" in str(exc)
    else:
        raise AssertionError("manage.py check passed a split of -0.1")


def test_it_refuses_a_running_deadline_a_live_run_can_outlast(settings) -> None:
    from app.recommendations.checks import request_sweep_settings_check

    assert request_sweep_settings_check() == []  # the defaults: 90 s against a 60 s hard limit
    settings.RECOMMENDATION_TASK_TIME_LIMIT = 120  # raised without the sweeper's deadline

    messages = request_sweep_settings_check()

    assert _ids(messages) == {"recommendations.W005"}
    assert "RECOMMENDATION_SWEEP_RUNNING_AFTER" in messages[0].msg
