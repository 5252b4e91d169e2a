"""The result cache: a repeated question is answered at once until something it depends on changes."""

from decimal import Decimal

import pytest

from app.marketplace.models import Bid
from app.recommendations.model_pointer import active_version_write
from tests import factories as f
from tests.e2e.polling import finished, rows_stored
from tests.support.auth import authenticate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _ask(api_client, url: str, body: dict | None = None):
    return api_client.post(url, body or {"limit": 3}, format="json")


def _answered(api_client, url: str) -> dict:
    resp = _ask(api_client, url)
    assert resp.status_code == 202, resp.content
    done = finished(api_client, resp.json()["status_url"])
    rows_stored(done["id"])
    return done


def test_it_answers_a_repeated_question_from_the_cache(celery_worker, api_client) -> None:
    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    first = _answered(api_client, url)

    again = _ask(api_client, url)

    assert again.status_code == 200
    body = again.json()
    assert body["cached"] is True
    assert body["id"] == first["id"] and body["result"] == first["result"]
    # Another limit or mode is another question.
    assert _ask(api_client, url, {"limit": 4}).status_code == 202
    assert _ask(api_client, url, {"limit": 3, "mode": "rule_based"}).status_code == 202


def test_it_forgets_when_the_job_or_its_bids_change(celery_worker, api_client) -> None:
    job = f.job()
    cleaner = f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)
    assert _ask(api_client, url).status_code == 200

    Bid.objects.create(job=job, cleaner=cleaner, amount=Decimal("99"))
    assert _answered(api_client, url)["status"] == "succeeded"  # recomputed, 202 again
    assert _ask(api_client, url).status_code == 200

    job.budget = Decimal("500")
    job.save()
    assert _ask(api_client, url).status_code == 202


def test_it_forgets_when_a_model_version_is_activated(celery_worker, api_client, settings, tmp_path) -> None:
    job = f.job()
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)
    assert _ask(api_client, url).status_code == 200

    active_version_write("9.9", tmp_path)  # any activation bumps the model generation

    assert _ask(api_client, url).status_code == 202


def test_it_keeps_one_users_cached_answer_from_another(celery_worker, api_client) -> None:
    job = f.job()
    operator = f.operator()
    authenticate(api_client, operator)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)
    authenticate(api_client, job.client.user)
    assert _ask(api_client, url).status_code == 202


def test_it_answers_the_owner_from_the_cache_without_touching_the_database(
    celery_worker, api_client, django_assert_max_num_queries
) -> None:
    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)

    with django_assert_max_num_queries(1):  # the token's lookup, nothing else
        assert _ask(api_client, url).status_code == 200

    # Someone else asking about the same job still meets the ownership check.
    authenticate(api_client, f.client().user)
    assert _ask(api_client, url).status_code == 404


def _job_queries(queries) -> list[str]:
    return [
        q["sql"] for q in queries if "marketplace_cleaningjob" in q["sql"] or "marketplace_clientprofile" in q["sql"]
    ]


def test_it_skips_the_ownership_query_for_an_owner_asking_again_after_a_change(celery_worker, api_client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    job = f.job()
    cleaner = f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    with CaptureQueriesContext(connection) as first:
        _answered(api_client, url)
    assert _job_queries(first.captured_queries), "the first question checks ownership in the database"
    Bid.objects.create(job=job, cleaner=cleaner, amount=Decimal("80"))  # the cached answer is stale now

    with CaptureQueriesContext(connection) as again:
        resp = _ask(api_client, url)

    assert resp.status_code == 202
    assert _job_queries(again.captured_queries) == []
    assert finished(api_client, resp.json()["status_url"])["status"] == "succeeded"


def test_it_checks_ownership_again_once_the_job_moves_to_another_client(celery_worker, api_client) -> None:
    job = f.job()
    first_owner = job.client.user
    authenticate(api_client, first_owner)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)

    job.client = f.client()
    job.save()

    assert _ask(api_client, url).status_code == 404
    authenticate(api_client, job.client.user)
    assert _ask(api_client, url).status_code == 202


def test_it_checks_ownership_again_once_the_client_profile_moves_to_another_user(celery_worker, api_client) -> None:
    job = f.job()
    first_owner = job.client.user
    authenticate(api_client, first_owner)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)

    profile = job.client
    profile.user = f.user()
    profile.save()

    assert _ask(api_client, url).status_code == 404


def test_it_answers_404_for_a_job_deleted_behind_the_orms_back(celery_worker, api_client) -> None:
    from app.recommendations.cache import cache_lookup, owner_remember

    user = f.client().user
    # What a job deleted by raw SQL leaves behind: its owner record, naming an id that is gone.
    seen = cache_lookup(kind="cleaners_for_job", user_id=user.pk, job_id=987654, cleaner_id=None, limit=3, mode="")
    owner_remember("job:987654", user.pk, seen.owner_gen)
    authenticate(api_client, user)

    resp = _ask(api_client, "/api/v1/jobs/987654/recommendations/")

    assert resp.status_code == 404
    assert resp["Content-Type"] == "application/problem+json"


def test_it_checks_a_cleaners_ownership_of_itself_again_after_a_profile_change(celery_worker, api_client) -> None:
    cleaner = f.cleaner()
    authenticate(api_client, cleaner.user)
    url = f"/api/v1/cleaners/{cleaner.pk}/recommendations/"
    _answered(api_client, url)

    cleaner.user = f.user(role="cleaner")
    cleaner.save()

    assert _ask(api_client, url).status_code == 404


def test_a_former_client_loses_the_shortcuts_with_the_role(celery_worker, api_client) -> None:
    job = f.job()
    user = job.client.user
    authenticate(api_client, user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    _answered(api_client, url)  # cached, and the owner recorded

    user.role = "cleaner"
    user.save()

    assert _ask(api_client, url).status_code == 404


def test_an_owner_record_written_across_an_ownership_change_is_not_trusted() -> None:
    from app.recommendations.cache import cache_lookup, generation_bump, owner_remember

    job = f.job()
    user = job.client.user

    def lookup():
        return cache_lookup(kind="cleaners_for_job", user_id=user.pk, job_id=job.pk, cleaner_id=None, limit=3, mode="")

    before_the_check = lookup()
    generation_bump(f"owner:job:{job.pk}")  # the job moved to another client while the API checked
    owner_remember(f"job:{job.pk}", user.pk, before_the_check.owner_gen)
    assert lookup().owner is None

    owner_remember(f"job:{job.pk}", user.pk, lookup().owner_gen)  # checked after the change
    assert lookup().owner == user.pk


@pytest.mark.parametrize("who", ["operator token", "integration key"])
def test_anyone_asking_on_others_behalf_gets_the_workers_answer_before_drf(
    celery_worker, api_client, monkeypatch, who
) -> None:
    from rest_framework.views import APIView

    from app.recommendations.api import fast
    from tests.factories.integrations import as_key, integration_key

    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    if who == "integration key":
        as_key(api_client, integration_key()[1])
    else:
        authenticate(api_client, f.operator())
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    first = _answered(api_client, url)
    _ask(api_client, url)  # the token's user now known to this process
    calls = []
    real = APIView.dispatch
    monkeypatch.setattr(APIView, "dispatch", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))

    again = _ask(api_client, url)
    assert not calls, "DRF answered"
    monkeypatch.setattr(fast, "answer_from_cache", lambda *a, **k: None)
    through_drf = _ask(api_client, url)

    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.content == through_drf.content
