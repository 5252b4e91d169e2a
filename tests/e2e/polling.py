"""Waiting on a recommendation request the worker computes: through the API, and in the database."""

from __future__ import annotations

from rest_framework.test import APIClient

from app.recommendations.models import RecommendationRequest
from tests.support.waiting import wait_until

DONE = ("succeeded", "failed")


def finished(api_client: APIClient, url: str, timeout: float = 20) -> dict:
    """GET the request's status URL until it has succeeded or failed; return that answer."""

    def done() -> dict | None:
        body = api_client.get(url).json()
        return body if body["status"] in DONE else None

    return wait_until(done, timeout, what=f"the request at {url} finished")


def rows_stored(request_id: str, timeout: float = 10) -> None:
    """Wait until the worker has written the request's rows (it answers the client first)."""
    wait_until(
        lambda: RecommendationRequest.objects.get(pk=request_id).status in DONE,
        timeout,
        what=f"the rows of request {request_id} written",
    )
