"""Deleting a client or a cleaner: no table keeps a row that names them; the others' history stays."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from app.accounts.models import User
from app.marketplace.ingest import entity_export
from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile, Property, Review
from app.recommendations.models import (
    BidSuggestion,
    CleanerRecommendation,
    JobRecommendation,
    RecommendationFeedback,
    RecommendationRequest,
)
from app.webhooks.models import CallbackSecret, WebhookEndpoint
from tests import factories as f
from tests.app.marketplace.ingest import builders as b
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db

CLIENT, CLEANER = "zed-client-77", "zed-cleaner-77"
CLIENT_TEXT = ("Zebedee Quux", "zed-client@example.org", "555-0199-77", f"client.{CLIENT}", "zed-home-77")
CLEANER_TEXT = ("Yolanda Wexford", "yolanda@example.org", f"cleaner.{CLEANER}")


def _world() -> None:
    b.apply(
        b.cleaner(CLEANER, name="Yolanda Wexford", email="yolanda@example.org"),
        b.cleaner("c-other", name="Other Cleaner", email="other@example.com"),
        b.client(CLIENT, name="Zebedee Quux", email="zed-client@example.org", phone="555-0199-77"),
        b.client("cl-other"),
        b.property_("zed-home-77", client=CLIENT),
        b.property_("p-other", client="cl-other"),
        # a finished job of each client by each cleaner, with a bid and a review each
        b.job(
            "j-done",
            client=CLIENT,
            property="zed-home-77",
            status="completed",
            assigned_cleaner="c-other",
            scheduled_start="2026-01-05T10:00:00Z",
            description="call 555-0199-77",
        ),
        b.job(
            "j-done-2",
            client="cl-other",
            property="p-other",
            status="completed",
            assigned_cleaner=CLEANER,
            scheduled_start="2026-01-06T10:00:00Z",
        ),
        b.job("j-open", client=CLIENT, property="zed-home-77"),
        b.job("j-assigned", client="cl-other", property="p-other", status="assigned", assigned_cleaner=CLEANER),
        b.bid("b-1", job="j-done", cleaner="c-other", status="accepted"),
        b.bid("b-2", job="j-done-2", cleaner=CLEANER, status="accepted", message="Yolanda Wexford here"),
        b.bid("b-3", job="j-open", cleaner=CLEANER),
        b.review("r-1", job="j-done", cleaner="c-other", comment="Zebedee Quux says hi"),
        b.review("r-2", job="j-done-2", cleaner=CLEANER, comment="Yolanda Wexford was great"),
    )
    now = timezone.now()
    for job in CleaningJob.objects.all():
        for cleaner in CleanerProfile.objects.all():
            owner = job.client.user
            req = RecommendationRequest.objects.create(
                kind="cleaners_for_job",
                requested_by=owner,
                job=job,
                status="succeeded",
                result={
                    "job_id": job.pk,
                    "cleaners": [{"cleaner_id": cleaner.pk, "cleaner_external_id": cleaner.external_id}],
                },
            )
            CleanerRecommendation.objects.create(
                request=req, job=job, cleaner=cleaner, score=1, rank=1, mode="rule_based"
            )
            JobRecommendation.objects.create(request=req, job=job, cleaner=cleaner, score=1, rank=1, mode="rule_based")
            BidSuggestion.objects.create(
                job=job, cleaner=cleaner, suggested_amount=Decimal(1), low=Decimal(1), high=Decimal(1), confidence=1
            )
            for user in (owner, cleaner.user):
                RecommendationFeedback.objects.create(
                    user=user,
                    idempotency_key=f"{job.pk}-{cleaner.pk}-{user.pk}",
                    event="viewed",
                    job=job,
                    cleaner=cleaner,
                    occurred_at=now,
                )
    for profile in (*ClientProfile.objects.all(), *CleanerProfile.objects.all()):
        Token.objects.get_or_create(user=profile.user)
        WebhookEndpoint.objects.create(owner=profile.user, url="https://example.com/hook")
        CallbackSecret.objects.create(user=profile.user)


def _rows_naming(pks: dict[type, list[int]], texts: tuple[str, ...]) -> dict[str, int]:
    """Every table: rows whose foreign keys point at these rows, or whose text holds these strings."""
    found: dict[str, int] = {}
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in pks:
                n = model.objects.filter(**{f"{field.name}__in": pks[field.related_model]}).count()
                if n:
                    found[f"{model._meta.db_table}.{field.column}"] = n
        # Every column read as text, in SQL both PostgreSQL and SQLite speak.
        columns = [connection.ops.quote_name(field.column) for field in model._meta.concrete_fields]
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(model._meta.db_table)
            for text in texts:
                where = " OR ".join(f"LOWER(CAST({c} AS TEXT)) LIKE %s" for c in columns)
                cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", [f"%{text.lower()}%"] * len(columns))
                (n,) = cursor.fetchone()
                if n:
                    found[f"{model._meta.db_table} ~ {text}"] = n
    return found


@pytest.fixture
def key_client(api_client):
    return as_key(api_client, integration_key()[1])


def test_deleting_a_client_leaves_no_row_that_names_them(key_client) -> None:
    _world()
    client = ClientProfile.objects.get(external_id=CLIENT)
    jobs = list(CleaningJob.objects.filter(client=client).values_list("pk", flat=True))
    pks = {
        User: [client.user_id],
        ClientProfile: [client.pk],
        Property: list(client.properties.values_list("pk", flat=True)),
    }
    assert _rows_naming(pks, CLIENT_TEXT)  # the check finds them while they are there

    assert key_client.delete(f"/api/v1/marketplace/clients/{CLIENT}/").status_code == 204

    assert _rows_naming(pks, CLIENT_TEXT) == {}
    # Nothing recommended about the client's jobs stays either.
    for model in (
        CleanerRecommendation,
        JobRecommendation,
        BidSuggestion,
        RecommendationFeedback,
        RecommendationRequest,
    ):
        assert not model.objects.filter(job_id__in=jobs).exists(), model
    # The cleaners' history stays: the jobs (finished or cancelled), their bids and reviews.
    assert dict(CleaningJob.objects.filter(pk__in=jobs).values_list("external_id", "status")) == {
        "j-done": "completed",
        "j-open": "cancelled",
    }
    assert Review.objects.get(external_id="r-1").rating == 9 and Bid.objects.filter(job_id__in=jobs).count() == 2
    assert Bid.objects.get(external_id="b-3").status == "rejected"
    # The other client is untouched, and the history is not exported.
    assert ClientProfile.objects.filter(external_id="cl-other").exists()
    assert {r["external_id"] for r in entity_export("job")} == {"j-done-2", "j-assigned"}
    assert key_client.get("/api/v1/marketplace/jobs/j-done/").status_code == 404


def test_deleting_a_cleaner_leaves_no_row_that_names_them(key_client) -> None:
    _world()
    cleaner = CleanerProfile.objects.get(external_id=CLEANER)
    pks = {User: [cleaner.user_id], CleanerProfile: [cleaner.pk]}
    assert _rows_naming(pks, CLEANER_TEXT)

    assert key_client.delete(f"/api/v1/marketplace/cleaners/{CLEANER}/").status_code == 204

    assert _rows_naming(pks, CLEANER_TEXT) == {}
    results = RecommendationRequest.objects.exclude(result=None).values_list("result", flat=True)
    assert not any(cleaner.pk in {c.get("cleaner_id") for c in (r or {}).get("cleaners", [])} for r in results)
    # The clients' history stays without the cleaner; the job they had is open for bids again.
    done = CleaningJob.objects.get(external_id="j-done-2")
    assert (done.status, done.assigned_cleaner_id) == ("completed", None)
    assert Review.objects.get(external_id="r-2").rating == 9 and Bid.objects.get(external_id="b-2").status == "accepted"
    assert Bid.objects.get(external_id="b-3").status == "withdrawn"
    reopened = CleaningJob.objects.get(external_id="j-assigned")
    assert (reopened.status, reopened.assigned_cleaner_id) == ("open_for_bids", None)


def test_the_scores_and_the_training_data_cope_with_the_history(key_client) -> None:
    from app.recommendations.cleaner_scores import cleaner_scores_refresh
    from workers.training.data import _jobs

    _world()
    key_client.delete(f"/api/v1/marketplace/cleaners/{CLEANER}/")
    key_client.delete(f"/api/v1/marketplace/clients/{CLIENT}/")

    assert cleaner_scores_refresh() == 1
    assert _jobs()["job_id"].tolist() == [CleaningJob.objects.get(external_id="j-done-2").pk]


def test_a_job_without_its_client_is_not_recommendable(api_client, key_client) -> None:
    _world()
    job = CleaningJob.objects.get(external_id="j-open")
    key_client.delete(f"/api/v1/marketplace/clients/{CLIENT}/")
    from tests.support.auth import authenticate

    resp = authenticate(api_client, f.operator()).post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json")
    assert resp.status_code == 409, resp.content
