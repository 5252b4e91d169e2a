"""A deployment that refuses demo accounts does not start while one keeps the demo password."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from app.accounts.models import User
from app.synthetic.checks import demo_accounts_check
from app.synthetic.generator import training_data_generate
from app.synthetic.models import DemoAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_marketplace() -> None:
    training_data_generate(jobs=30, cleaners=3, clients=4, seed=5)


def test_the_generator_records_every_account_it_makes(demo_marketplace) -> None:
    made = set(User.objects.filter(role__in=["client", "cleaner"]).values_list("pk", flat=True))
    made.add(User.objects.get(username="operator").pk)
    assert set(DemoAccount.objects.values_list("user_id", flat=True)) == made
    assert User.objects.get(username="operator").check_password("demo")


def test_it_refuses_an_account_that_still_has_the_demo_password(demo_marketplace, settings) -> None:
    settings.ALLOW_DEMO_ACCOUNTS = False
    errors = demo_accounts_check(databases=["default"])
    assert [e.id for e in errors] == ["synthetic.E001"]
    assert "operator" in errors[0].msg and "8 active account(s)" in errors[0].msg
    with pytest.raises(SystemCheckError):
        call_command("check", databases=["default"], fail_level="ERROR")


def test_it_passes_once_every_demo_account_has_a_real_password_or_is_off(demo_marketplace, settings) -> None:
    settings.ALLOW_DEMO_ACCOUNTS = False
    for user in User.objects.filter(demo_account__isnull=False).order_by("pk"):
        if user.username == "operator":
            user.set_password("a real one, long enough")
            user.save()
        else:
            user.is_active = False
            user.save()
    assert demo_accounts_check(databases=["default"]) == []


def test_a_demo_deployment_may_keep_them(demo_marketplace, settings) -> None:
    settings.ALLOW_DEMO_ACCOUNTS = True
    assert demo_accounts_check(databases=["default"]) == []
    settings.ALLOW_DEMO_ACCOUNTS = False
    assert demo_accounts_check() == []  # without the database (plain `check`): not run
