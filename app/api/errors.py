"""One error shape for every API error: RFC 9457 problem details.

`{"type", "title", "status", "detail", "errors": [{"field", "message"}]}` served as
`application/problem+json`. Validation errors name the offending field; the database or
Redis being unreachable is a 503; unexpected exceptions are logged and answered with a
generic 500 that carries no traceback.
"""

import logging
from typing import Any

import redis
from django import db
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from app.accounts.login_guard import LoginGuardUnavailable, LoginRefused

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Conflict(exceptions.APIException):
    """409: the request is well formed but the resource's state does not allow it (say which)."""

    status_code = 409
    default_detail = "This conflicts with the current state."
    default_code = "conflict"


class Refused(exceptions.APIException):
    """Any 4xx with a readable `detail` and the offending fields (`errors`: [{"field", "message"}])."""

    def __init__(self, status_code: int, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.errors = errors


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The service is temporarily unavailable; retry shortly."
    default_code = "service_unavailable"


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            # DRF 3.18 reports a list's items as a dict keyed by index: `events[3]`, not `events.3`.
            name = f"{prefix}[{key}]" if isinstance(key, int) else key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                name = prefix or None
            out.extend(_flatten(value, name or ""))
        return out
    if isinstance(detail, list):
        if all(not isinstance(d, (dict, list)) for d in detail):
            return [{"field": prefix or None, "message": str(d)} for d in detail]
        out = []
        for i, item in enumerate(detail):
            out.extend(_flatten(item, f"{prefix}[{i}]" if prefix else f"[{i}]"))
        return out
    return [{"field": prefix or None, "message": str(detail)}]


def problem(status_code: int, title: str, detail: str, errors: list[dict] | None = None) -> dict:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status_code, "detail": detail}
    if errors:
        body["errors"] = errors
    return body


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is larger than this service accepts."
    default_code = "payload_too_large"


# A backing service that is down or unreachable: the client should retry, not report a bug.
_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, db.OperationalError, db.InterfaceError)


def problem_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, LoginRefused):  # raised by authenticate() (app/accounts/login_guard.py)
        exc = exceptions.Throttled(wait=exc.wait, detail=str(exc))
    elif isinstance(exc, LoginGuardUnavailable):  # the guard fails closed without Redis
        exc = ServiceUnavailable(str(exc))
    elif isinstance(exc, RequestDataTooBig):  # DATA_UPLOAD_MAX_MEMORY_SIZE, hit while DRF parses the body
        exc = PayloadTooLarge()
    elif isinstance(exc, TooManyFieldsSent):  # DATA_UPLOAD_MAX_NUMBER_FIELDS, in a form or a query string
        exc = exceptions.ParseError(f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields or parameters.")
    elif isinstance(exc, SuspiciousOperation):  # any other request Django refuses to read: the client's doing
        exc = exceptions.ParseError("The request could not be understood.")
    elif isinstance(exc, _OUTAGES):
        logger.error("backing service unavailable: %s: %s", type(exc).__name__, exc)
        exc = ServiceUnavailable("A backing service (the database or Redis) is unavailable. Retry shortly.")
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        body = problem(500, "Internal Server Error", "An unexpected error occurred; it has been logged.")
        return Response(body, status=500, content_type=PROBLEM_CONTENT_TYPE)

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = errors[0] if errors else {"field": None, "message": "Invalid input."}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        body = problem(400, "Invalid request", detail, errors)
    elif isinstance(exc, (Http404, exceptions.NotFound)):
        body = problem(404, "Not Found", "No such resource, or it is not yours.")
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        if isinstance(detail, (dict, list)):
            detail = "; ".join(e["message"] for e in _flatten(detail))
        body = problem(response.status_code, response.status_text or "Error", str(detail), getattr(exc, "errors", None))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(status_code: int, title: str, detail: str) -> JsonResponse:
    """A problem answered outside DRF: by a Django handler or a middleware."""
    return JsonResponse(problem(status_code, title, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


# Django-level handlers (URLs outside DRF views, malformed paths, crashes in middleware).
def bad_request(request, exception=None):
    return problem_response(400, "Bad Request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return problem_response(403, "Forbidden", "You do not have permission to do this.")


def not_found(request, exception=None):
    return problem_response(404, "Not Found", "No such resource.")


def server_error(request):
    return problem_response(500, "Internal Server Error", "An unexpected error occurred; it has been logged.")
