"""Who may call an endpoint, beyond being signed in."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from app.accounts.models import User
from app.integrations.models import IntegrationKey


class IsOperator(BasePermission):
    """Operators only (role operator, or a superuser). `operator_only` gives it a message of its own."""

    message = "Only operators can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_operator)


def operator_only(message: str) -> type[IsOperator]:
    """IsOperator, refusing with `message` (what the caller tried to do, in words)."""
    return type("IsOperator", (IsOperator,), {"message": message})


class IsIntegration(BasePermission):
    """Integration keys only: the marketplace's backend, never a client, cleaner or operator.

    What writes marketplace data uses it. The request must have been authenticated by the key
    itself (`Authorization: Bearer`), not merely by its user some other way.
    """

    message = "Only integration keys can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.role == User.Role.INTEGRATION
            and isinstance(request.auth, IntegrationKey)
        )
