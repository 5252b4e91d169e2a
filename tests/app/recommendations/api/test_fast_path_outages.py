"""The fast path with the database unreachable: the same 503 problem as the DRF view, never a 500.

An operator's token and an integration key make the fast path query the database (the key,
the subject) before DRF is involved, so an outage met there must reach the view, whose
exception handler answers 503 (app/api/errors.py), rather than Django's 500 handler.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from django.db import connection
from rest_framework.test import APIClient

from app.recommendations.cache import cache_lookup, cache_put
from tests import factories as f
from tests.factories.integrations import as_key, integration_key
from tests.support.auth import authenticate
from tests.support.net import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def _database_unreachable(tmp_path):
    """The default connection pointed at a database that is not there (a real connection failure)."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    else:
        connection.settings_dict["NAME"] = str(tmp_path / "no-such-dir" / "db.sqlite3")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.parametrize("who", ["operator token", "integration key"])
def test_an_operator_or_key_question_with_the_database_down_answers_503(who, tmp_path) -> None:
    job = f.job()
    api = APIClient(raise_request_exception=False)
    if who == "integration key":
        key, secret = integration_key()
        as_key(api, secret)
        user_id = key.user_id
    else:
        operator = f.operator()
        authenticate(api, operator)
        user_id = operator.pk
    found = cache_lookup(kind="cleaners_for_job", user_id=user_id, job_id=job.pk, cleaner_id=None, limit=10, mode="")
    cache_put(found.token, {"id": "x", "status": "succeeded", "result": {}})
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    ask = lambda: api.generic("POST", url, b'{"limit": 10}', content_type="application/json")  # noqa: E731
    assert ask().status_code == 200  # the token's record is cached now; the fast path answers

    with _database_unreachable(tmp_path):
        response = ask()

    assert response.status_code == 503, response.content
    assert json.loads(response.content)["status"] == 503
