"""A user has exactly one role; it decides what the API lets them see."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    class Role(models.TextChoices):
        CLIENT = "client", "Client"
        CLEANER = "cleaner", "Cleaner"
        OPERATOR = "operator", "Operator"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLIENT, db_index=True)

    @property
    def is_operator(self) -> bool:
        return self.role == self.Role.OPERATOR or self.is_superuser
