"""Who may call an endpoint, beyond being signed in."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsOperator(BasePermission):
    """Operators only (role operator, or a superuser). `operator_only` gives it a message of its own."""

    message = "Only operators can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_operator)


def operator_only(message: str) -> type[IsOperator]:
    """IsOperator, refusing with `message` (what the caller tried to do, in words)."""
    return type("IsOperator", (IsOperator,), {"message": message})
