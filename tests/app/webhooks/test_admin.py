"""The admin lists every webhook table and never shows a secret."""

import pytest
from django.utils import timezone

from app.recommendations.models import RecommendationRequest
from app.webhooks.models import CallbackSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_it_shows_webhook_tables_to_staff_without_secrets(client) -> None:
    admin = f.user(is_staff=True, is_superuser=True)
    endpoint = WebhookEndpoint.objects.create(owner=admin, url="https://hooks.example.com/in")
    callback = CallbackSecret.objects.create(user=admin)
    req = RecommendationRequest.objects.create(kind="cleaners_for_job", requested_by=admin, status="succeeded")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        request=req,
        url=endpoint.url,
        event_type="recommendation_request.finished",
        msg_id="msg_1",
        payload={},
        next_attempt_at=timezone.now(),
    )
    WebhookAttempt.objects.create(delivery=delivery, attempted_at=timezone.now(), status_code=500, error="HTTP 500")
    client.force_login(admin)

    pages = [
        "/admin/webhooks/webhookendpoint/",
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        "/admin/webhooks/callbacksecret/",
        f"/admin/webhooks/callbacksecret/{callback.pk}/change/",
        "/admin/webhooks/webhookdelivery/",
        f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/",
        "/admin/webhooks/webhookattempt/",
    ]
    for page in pages:
        resp = client.get(page)
        assert resp.status_code == 200, page
        assert endpoint.secret not in resp.content.decode() and callback.secret not in resp.content.decode()
