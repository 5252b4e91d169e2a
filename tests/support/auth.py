"""API clients for the tests, and authenticating one as a user with the user's token.

Like every plugin module here, it imports Django only inside its functions: the layers that
need no Django (workers/ml, the container checks) load the plugins too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rest_framework.test import APIClient

    from app.accounts.models import User


@pytest.fixture
def api_client() -> APIClient:
    """A DRF test client that sends no credentials until told to."""
    from rest_framework.test import APIClient

    return APIClient()


def authenticate(client: APIClient, user: User) -> APIClient:
    """Make `client` send `user`'s token with every request from now on, as a real API client would.

    Returns the client, so `authenticate(api_client, user).get(url)` reads as one step. A test
    about the token itself (a made-up, deleted or oddly written one) sets the header directly.
    """
    from tests import factories as f  # Django models: imported once Django is set up

    client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(user)}")
    return client
