"""`GET /api/v1/jobs/`: a client sees its own jobs only; operators and keys all; cleaners none."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.factories.integrations import as_key, integration_key
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db

URL = "/api/v1/jobs/"


def test_a_client_sees_its_own_jobs_only(api_client) -> None:
    mine = f.job()
    f.job()
    body = authenticate(api_client, mine.client.user).get(URL).json()
    assert [j["id"] for j in body["results"]] == [mine.pk] and body["count"] == 1
    assert body["results"][0]["external_id"] == mine.external_id


def test_operators_and_keys_see_every_job_cleaners_none(api_client) -> None:
    f.job(), f.job()
    assert authenticate(api_client, f.operator()).get(URL).json()["count"] == 2
    assert as_key(api_client, integration_key()[1]).get(URL).json()["count"] == 2
    assert authenticate(api_client, f.cleaner().user).get(URL).status_code == 403
    api_client.credentials()
    assert api_client.get(URL).status_code == 401
