"""Who may see what: every kind of URL, walked as each kind of caller, against a written table.

The table is the policy; a change to who may see something must change it here too. The API
is called as an API client (a token, or an integration key's Bearer secret); the admin and the
operator page as a browser would, with a session. Every request comes from an address outside
the metrics scraper's networks. Flower runs in a process of its own behind basic auth on every
path (tests/test_flower.py walks its URL table).
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from app.recommendations import services
from tests import factories as f
from tests.factories.integrations import integration_key

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "client", "cleaner", "operator", "key")
OUTSIDE = "203.0.113.9"  # not in METRICS_ALLOWED_NETWORKS
OPERATORS_ONLY = {"anonymous": 401, "client": 403, "cleaner": 403, "operator": 200, "key": 403}
SIGNED_IN = {"anonymous": 401, "client": 200, "cleaner": 200, "operator": 200, "key": 200}
PUBLIC = dict.fromkeys(CALLERS, 200)

# (method, URL, how, {caller: status}). "{job}", "{ext}", "{cleaner}": the caller's world below.
TABLE = [
    ("GET", "/healthz", "api", PUBLIC),
    ("GET", "/api/schema/", "api", PUBLIC),
    ("GET", "/api/docs/", "api", PUBLIC),
    # Only the scraper: its bearer token, or its network (METRICS_ALLOWED_NETWORKS).
    ("GET", "/metrics", "api", dict.fromkeys(CALLERS, 403)),
    ("GET", "/admin/", "session", {"anonymous": 302, "client": 302, "cleaner": 302, "operator": 200}),
    ("GET", "/ops/", "session", {"anonymous": 302, "client": 403, "cleaner": 403, "operator": 200}),
    ("GET", "/api/v1/models/", "api", OPERATORS_ONLY),
    ("GET", "/api/v1/recommendations/stats/", "api", OPERATORS_ONLY),
    ("GET", "/api/v1/experiments/results/", "api", OPERATORS_ONLY),
    ("GET", "/api/v1/integration-keys/", "api", OPERATORS_ONLY),
    ("GET", "/api/v1/jobs/", "api", {**SIGNED_IN, "cleaner": 403}),  # a client's own jobs; a key's all
    ("GET", "/api/v1/webhook-endpoints/", "api", SIGNED_IN),
    ("GET", "/api/v1/webhook-callback-secret/", "api", SIGNED_IN),
    # Marketplace data is written and read by the marketplace's backend only.
    ("GET", "/api/v1/marketplace/jobs/{ext}/", "api", {**dict.fromkeys(CALLERS, 403), "anonymous": 401, "key": 200}),
    # Asking: a client about its own job; a cleaner has no jobs; operators and keys about any.
    (
        "POST",
        "/api/v1/jobs/{job}/recommendations/",
        "api",
        {"anonymous": 401, "client": 202, "cleaner": 404, "operator": 202, "key": 202},
    ),
    (
        "POST",
        "/api/v1/cleaners/{cleaner}/recommendations/",
        "api",
        {"anonymous": 401, "client": 404, "cleaner": 202, "operator": 202, "key": 202},
    ),
]


@pytest.fixture
def world(monkeypatch) -> dict:
    monkeypatch.setattr(services, "_enqueue", lambda req: None)  # no worker here: nothing to send
    job = f.job()
    cleaner = f.cleaner()
    _, secret = integration_key()
    return {
        "users": {"client": job.client.user, "cleaner": cleaner.user, "operator": f.operator()},
        "secret": secret,
        "ids": {"job": job.pk, "ext": job.external_id, "cleaner": cleaner.pk},
    }


def _client(world: dict, caller: str, how: str) -> Client:
    if how == "session":
        client = Client(REMOTE_ADDR=OUTSIDE)
        if caller in world["users"]:
            client.force_login(world["users"][caller])
        return client
    client = APIClient(REMOTE_ADDR=OUTSIDE)
    if caller == "key":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['secret']}")
    elif caller in world["users"]:
        client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(world['users'][caller])}")
    return client


@pytest.mark.parametrize(("method", "url", "how", "expected"), TABLE, ids=[f"{m} {u}" for m, u, _, _ in TABLE])
def test_each_caller_sees_what_the_table_says(world, method: str, url: str, how: str, expected: dict) -> None:
    path = url.format(**world["ids"])
    seen = {}
    for caller in expected:
        client = _client(world, caller, how)
        if method == "GET":
            resp = client.get(path)
        else:
            resp = client.post(path, {"limit": 3}, content_type="application/json")
        seen[caller] = resp.status_code
    assert seen == expected


def test_the_scraper_reads_metrics_with_its_token(world, settings) -> None:
    settings.METRICS_TOKEN = "scrape-me"
    client = APIClient(REMOTE_ADDR=OUTSIDE)
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {world['secret']}").status_code == 403


def test_the_table_covers_every_kind_of_url() -> None:
    from django.urls import get_resolver

    tops = {str(p.pattern) for p in get_resolver().url_patterns}
    # The admin's login is the login guard's (tests/app/accounts/test_login_guard.py).
    missing = {top for top in tops - {"admin/login/"} if not any(url.startswith("/" + top) for _, url, _, _ in TABLE)}
    assert not missing, f"add these routes to TABLE: {sorted(missing)}"
