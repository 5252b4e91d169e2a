"""The admin: operators create (the secret shown once), list and revoke integration keys."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.auth.models import Permission

from app.integrations.models import IntegrationKey
from tests import factories as f
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db

BASE = "/admin/integrations/integrationkey/"
PROBE = "/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/"


@pytest.fixture
def operator_client(client):
    client.force_login(f.operator())  # role operator, is_staff: no model permissions needed
    return client


def _secret_on(page: str) -> str:
    return re.search(r'value="(rsk_[^"]+)"', page).group(1)


def test_it_shows_the_secret_once_on_the_page_that_creates_the_key(operator_client, api_client) -> None:
    resp = operator_client.post(f"{BASE}add/", {"name": "nightly sync"})

    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    secret = _secret_on(resp.content.decode())
    key = IntegrationKey.objects.get()
    assert key.name == "nightly sync" and secret.startswith(key.prefix)
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    for page in (BASE, f"{BASE}{key.pk}/change/", "/admin/admin/logentry/", "/admin/"):
        assert secret not in operator_client.get(page).content.decode()
    assert as_key(api_client, secret).get(PROBE).status_code == 404  # it works


def test_it_lists_keys_without_secrets(operator_client) -> None:
    key, secret = integration_key("listed")

    page = operator_client.get(BASE).content.decode()

    assert "listed" in page and key.prefix in page
    assert secret not in page and key.secret_hash not in page
    assert key.secret_hash not in operator_client.get(f"{BASE}{key.pk}/change/").content.decode()


def test_the_revoke_action_refuses_the_key_at_once(operator_client, api_client) -> None:
    key, secret = integration_key()
    other, other_secret = integration_key()
    assert as_key(api_client, secret).get(PROBE).status_code == 404

    resp = operator_client.post(BASE, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)

    assert resp.status_code == 200 and "Revoked 1 key(s)" in resp.content.decode()
    assert as_key(api_client, secret).get(PROBE).status_code == 401
    assert as_key(api_client, other_secret).get(PROBE).status_code == 404


def test_renaming_a_key_does_not_bring_a_revoked_one_back(operator_client, api_client) -> None:
    key, secret = integration_key()
    form = operator_client.get(f"{BASE}{key.pk}/change/")
    assert form.status_code == 200
    IntegrationKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")  # revoked meanwhile

    operator_client.post(f"{BASE}{key.pk}/change/", {"name": "renamed"})

    key.refresh_from_db()
    assert key.name == "renamed" and key.revoked_at is not None


def test_keys_are_revoked_not_deleted(operator_client) -> None:
    key, _ = integration_key()
    assert operator_client.get(f"{BASE}{key.pk}/delete/").status_code == 403
    assert IntegrationKey.objects.filter(pk=key.pk).exists()


def test_staff_who_are_not_operators_cannot_see_keys(client) -> None:
    staff = f.user(is_staff=True)  # a client with admin access, even with every model permission
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="integrations"))
    integration_key()
    client.force_login(staff)

    assert client.get(BASE).status_code == 403
    assert client.post(f"{BASE}add/", {"name": "mine"}).status_code == 403
    assert IntegrationKey.objects.count() == 1
