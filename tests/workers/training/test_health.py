"""The daily health check: a quiet week passes; a simulated drop alerts operators by signed webhook."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations import registry
from app.recommendations.models import JobRecommendation, ModelHealthCheck, ModelVersion
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests import factories as f
from tests.support.training import train
from workers import names
from workers.training import versions
from workers.training.health import model_health_check
from workers.training.retrain import active_model_evaluate

# Each test leaves no model pointer behind: the tests after it see rule-based.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_pointers")]


def _job_recommendations(*, viewed: int, bids: int, accepted: int, days_ago: float) -> None:
    """`viewed` recommended jobs seen by cleaners, `bids` of them bid on, `accepted` of those won."""
    cleaners = list(CleanerProfile.objects.order_by("pk")[:10])
    jobs = list(CleaningJob.objects.order_by("pk")[:10])
    start = timezone.now()
    JobRecommendation.objects.bulk_create(
        JobRecommendation(
            cleaner=cleaners[i % 10],
            job=jobs[i // 10 % 10],
            score=0.5,
            rank=1 + i % 10,
            mode="ensemble",
            was_viewed=True,
            was_bid_placed=i < bids,
            was_bid_accepted=i < accepted,
        )
        for i in range(viewed)
    )
    JobRecommendation.objects.filter(created_at__gte=start).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_it_alerts_operators_when_the_online_rates_drop(marketplace, celery_worker, make_receiver) -> None:
    # A month before the promotion: 40% of viewed jobs got a bid.
    _job_recommendations(viewed=100, bids=40, accepted=20, days_ago=12)
    version = train().version
    registry.model_version_activate(version=version, by=None, check_files=versions.model_files_check_local)
    baseline = ModelVersion.objects.get(version=version).baseline["rates"]
    assert baseline["job_view_to_bid"] == {"n": 100, "hits": 40, "rate": 0.4}

    operator = f.operator()
    receiver = make_receiver(200)
    endpoint = WebhookEndpoint.objects.create(owner=operator, url=receiver.url)
    receiver.secret = endpoint.secret
    bystander = make_receiver(200)
    WebhookEndpoint.objects.create(owner=f.user("client"), url=bystander.url)  # not an operator

    # A normal week: 38% (5% below the baseline, under the 20% threshold) and the model unchanged offline.
    _job_recommendations(viewed=50, bids=19, accepted=9, days_ago=2)
    quiet = model_health_check(evaluate=active_model_evaluate)
    assert quiet.verdict == "ok" and not quiet.problems and not quiet.alerted, quiet.problems
    assert quiet.offline["now"]["pairwise_accuracy"] == pytest.approx(quiet.offline["at_training"]["pairwise_accuracy"])
    assert WebhookDelivery.objects.count() == 0

    # Then cleaners stop bidding on what they are shown: 24 bids on 150 views, 16%.
    _job_recommendations(viewed=100, bids=5, accepted=2, days_ago=1)
    from workers.celery import app

    result = app.send_task(names.MODEL_HEALTH_CHECK).get(timeout=60)

    assert result["verdict"] == "degraded" and result["alerted"], result
    assert any(p.startswith("job_view_to_bid fell from 0.400 (40/100) to 0.160 (24/150)") for p in result["problems"])
    got = receiver.wait_for(1)[0]
    assert got.verified is not None, got.verify_error  # signed with the endpoint's secret
    assert got.payload["type"] == "model.degraded"
    assert got.payload["data"]["model_version"] == version and got.payload["data"]["problems"] == result["problems"]
    check = ModelHealthCheck.objects.get(pk=result["id"])
    assert check.alerted and check.online["rates"]["job_view_to_bid"]["rate"] == pytest.approx(0.16)
    assert "now" in check.offline  # the offline half ran on the worker too
    time.sleep(0.3)
    assert bystander.requests == []


def test_it_alerts_on_an_offline_drop_and_ignores_thin_volumes(marketplace, settings) -> None:
    version = train().version
    registry.model_version_activate(version=version, by=None, check_files=versions.model_files_check_local)
    _job_recommendations(viewed=10, bids=0, accepted=0, days_ago=1)  # a 100% drop, but on 10 views only

    check = model_health_check(
        evaluate=lambda v: {"r2": 0.0, "ranking": {"ensemble": {"pairwise_accuracy": 0.3, "ndcg_at_5": 0.5}}}
    )

    assert check.verdict == "degraded" and not check.alerted  # no operator endpoint: only logged
    assert [p.split(" fell")[0] for p in check.problems] == [
        "offline pairwise_accuracy",
        "offline ndcg_at_5",
        "offline r2",
    ]


def test_it_records_that_there_is_nothing_to_check() -> None:
    assert model_health_check().verdict == "no_model"


def test_it_schedules_the_monthly_retrain_and_the_daily_check() -> None:
    call_command("setup_schedules", stdout=open("/dev/null", "w"))
    call_command("setup_schedules", stdout=open("/dev/null", "w"))

    retrain = PeriodicTask.objects.get(task=names.RETRAIN)
    cron = retrain.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "0",
        "3",
        "1",
        "*",
        "*",
    )
    assert str(cron.timezone) == "UTC" and retrain.queue == "training" and retrain.interval is None
    check = PeriodicTask.objects.get(task=names.MODEL_HEALTH_CHECK)
    assert (check.crontab.hour, check.crontab.minute, check.crontab.day_of_month) == ("4", "0", "*")
    assert check.queue == "maintenance"
    assert PeriodicTask.objects.filter(task__in=[names.RETRAIN, names.MODEL_HEALTH_CHECK]).count() == 2
