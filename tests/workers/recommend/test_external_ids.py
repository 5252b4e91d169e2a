"""The engine names every scored subject by its external id too, from the cleaner table and the job query."""

from __future__ import annotations

import pytest

from app.marketplace.models import CleanerProfile
from tests import factories as f
from workers.recommend import candidates
from workers.recommend.cleaner_table import cleaner_table
from workers.recommend.engine import RecommendationEngine

pytestmark = pytest.mark.django_db


def test_the_cleaner_table_holds_each_cleaners_external_id() -> None:
    made = [f.cleaner(external_id=f"cl-{i}") for i in range(3)]

    table = cleaner_table.get()

    assert table["external_id"].dtype == object
    by_id = dict(zip(table["cleaner_id"].tolist(), table["external_id"].tolist()))
    assert {c.pk: by_id[c.pk] for c in made} == {c.pk: c.external_id for c in made}


def test_scored_cleaners_carry_their_external_ids() -> None:
    job = f.job()
    near = [f.cleaner(external_id=f"near-{i}", home_lat=job.property.lat, home_lng=job.property.lng) for i in range(3)]

    scored = RecommendationEngine(mode="rule_based").score_cleaners_for_job(job, 2)

    rows = scored.rows()
    assert len(rows) == 2
    external = dict(CleanerProfile.objects.filter(pk__in=[c.pk for c in near]).values_list("pk", "external_id"))
    assert [r["external_id"] for r in rows] == [external[r["id"]] for r in rows]


def test_scored_jobs_carry_their_external_ids() -> None:
    cleaner = f.cleaner()
    jobs = [f.job(external_id=f"open-{i}") for i in range(3)]

    assert {j["external_id"] for j in candidates.open_jobs_for_cleaner(cleaner=cleaner)} == {
        j.external_id for j in jobs
    }
    rows = RecommendationEngine(mode="rule_based").score_jobs_for_cleaner(cleaner, 10).rows()
    by_pk = {j.pk: j.external_id for j in jobs}
    assert sorted((r["id"], r["external_id"]) for r in rows) == sorted(by_pk.items())


def test_no_candidates_is_an_empty_answer() -> None:
    job = f.job()
    f.cleaner(services_mask=0)  # offers nothing

    scored = RecommendationEngine(mode="rule_based").score_cleaners_for_job(job, 5)

    assert scored.rows() == [] and scored.external_ids.shape == (0,)
