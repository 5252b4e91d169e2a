"""A user has exactly one role; it decides what the API lets them see.

`integration` is not a person: it is the principal of one integration key (app/integrations),
the marketplace's backend calling this service. It asks on anyone's behalf, as an operator
does, but operates nothing (models, stats, the operator page).
"""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    class Role(models.TextChoices):
        CLIENT = "client", "Client"
        CLEANER = "cleaner", "Cleaner"
        OPERATOR = "operator", "Operator"
        INTEGRATION = "integration", "Integration"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLIENT, db_index=True)

    @property
    def is_operator(self) -> bool:
        return self.operates(role=self.role, is_superuser=self.is_superuser)

    @property
    def is_integration(self) -> bool:
        return self.role == self.Role.INTEGRATION

    @classmethod
    def operates(cls, *, role: str, is_superuser: bool) -> bool:
        """The operator rule, for a user row and for the authentication cache's record of one."""
        return role == cls.Role.OPERATOR or is_superuser
