"""A deployment that refuses demo accounts will not start while one still has the demo password.

`generate_training_data` makes its accounts (clients, cleaners and a staff `operator`) with the
password "demo". That is what `make run` wants and what production must never keep. The check
runs with the database (`manage.py check --database default`, as `scripts/start-web.sh` runs it)
when `ALLOW_DEMO_ACCOUNTS` is off, which is the production settings' default.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError
from django.db.models import F

LISTED = 5


@register(Tags.database)
def demo_accounts_check(app_configs=None, databases=None, **kwargs) -> list[Error]:
    if getattr(settings, "ALLOW_DEMO_ACCOUNTS", True) or not databases:
        return []
    from app.accounts.models import User

    try:
        still = list(
            User.objects.filter(is_active=True, demo_account__password_hash=F("password"))
            .order_by("-is_staff", "pk")  # staff first: the riskiest
            .values_list("username", flat=True)
        )
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    if not still:
        return []
    names = ", ".join(still[:LISTED]) + (f" and {len(still) - LISTED} more" if len(still) > LISTED else "")
    return [
        Error(
            f"{len(still)} active account(s) still open with the demo password: {names}.",
            hint="Give these accounts real passwords (manage.py changepassword NAME) or deactivate them in the "
            "admin; a demo deployment sets ALLOW_DEMO_ACCOUNTS=1.",
            id="synthetic.E001",
        )
    ]
