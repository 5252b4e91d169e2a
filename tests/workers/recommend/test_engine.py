"""RecommendationEngine: modes, fallback, cold-start ids, candidate selection, hot reload."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest

from app.marketplace.models import CleaningJob
from app.recommendations.cleaner_scores import cleaner_scores_refresh
from app.recommendations.model_pointer import active_version_read, active_version_write
from app.synthetic.generator import training_data_generate
from tests import factories as f
from tests.support import ROOT
from workers.recommend.engine import NO_TORCH_WARNING, RecommendationEngine
from workers.recommend.model_manager import ModelManager
from workers.training.train import model_train


@pytest.fixture(scope="module")
def marketplace(django_db_setup, django_db_blocker, tmp_path_factory):
    """A small seeded marketplace and a model trained on it, shared by this module."""
    models = tmp_path_factory.mktemp("engine-models")
    with django_db_blocker.unblock():
        training_data_generate(jobs=1500, cleaners=60, clients=150, seed=7)
        cleaner_scores_refresh()
        report = model_train(version="1.0", models_dir=models, seed=7)
    yield {"models": models, "report": report}
    with django_db_blocker.unblock():
        from app.synthetic.generator import training_data_clear

        training_data_clear()


def _open_job() -> CleaningJob:
    return CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).order_by("pk").first()


@pytest.mark.django_db
def test_it_orders_model_above_rule_above_random(marketplace) -> None:
    ranking = marketplace["report"].evaluation["ranking"]
    assert ranking["neural"]["pairwise_accuracy"] > ranking["rule_based"]["pairwise_accuracy"]
    assert ranking["ensemble"]["pairwise_accuracy"] > ranking["rule_based"]["pairwise_accuracy"]
    assert ranking["rule_based"]["pairwise_accuracy"] > ranking["random"]["pairwise_accuracy"] + 0.05
    assert ranking["neural"]["ndcg_at_5"] > ranking["rule_based"]["ndcg_at_5"] > ranking["random"]["ndcg_at_5"]


@pytest.mark.django_db
def test_it_trains_deterministically_for_a_seed(marketplace, tmp_path) -> None:
    again = model_train(version="1.0", models_dir=tmp_path, seed=7, save=False)
    first = marketplace["report"]
    assert [h.val_loss for h in again.history] == [h.val_loss for h in first.history]
    assert again.evaluation["r2"] == first.evaluation["r2"]


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["rule_based", "neural", "ensemble"])
def test_it_recommends_cleaners_in_every_mode(marketplace, settings, mode) -> None:
    settings.RECOMMENDATION_MODELS_DIR = marketplace["models"]
    engine = RecommendationEngine(mode=mode)
    assert engine.mode == mode
    assert engine.model_manager.device == "cpu"
    assert (engine.nn_model is not None) == (mode != "rule_based") or engine.nn_model is not None
    recs = engine.recommend_cleaners_for_job(_open_job(), limit=5)
    assert 0 < len(recs) <= 5
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)
    first = recs[0]
    assert {"cleaner", "score", "rule_based_score", "neural_score", "components"} <= set(first)
    assert (first["neural_score"] is None) == (mode == "rule_based")
    if mode == "ensemble":
        expected = 0.6 * first["rule_based_score"] + 0.4 * first["neural_score"]
        assert first["score"] == pytest.approx(expected, abs=1e-5)


@pytest.mark.django_db
def test_it_recommends_jobs_and_suggests_bids(marketplace, settings) -> None:
    settings.RECOMMENDATION_MODELS_DIR = marketplace["models"]
    engine = RecommendationEngine(mode="ensemble")
    job = _open_job()
    cleaner = job.bids.first().cleaner
    jobs = RecommendationEngine(mode="ensemble").recommend_jobs_for_cleaner(cleaner, limit=10)
    assert all(r["job"].status == CleaningJob.Status.OPEN_FOR_BIDS for r in jobs)
    assert job.pk not in [r["job"].pk for r in jobs]  # already bid on it
    bid = engine.suggest_bid(job, cleaner)
    assert bid["low"] <= bid["suggested_amount"] <= bid["high"]
    assert 0 < bid["confidence"] <= 1
    assert bid["components"]["comparable_jobs"] > 0


@pytest.mark.django_db
def test_it_serves_an_unseen_cleaner_from_the_content_part(marketplace, settings) -> None:
    settings.RECOMMENDATION_MODELS_DIR = marketplace["models"]
    engine = RecommendationEngine(mode="neural")
    job = _open_job()
    prop = job.property
    newcomer = f.cleaner(home_lat=prop.lat, home_lng=prop.lng, services_mask=0b1111111, specialties_mask=0)
    pro = f.cleaner(
        home_lat=prop.lat, home_lng=prop.lng, services_mask=0b1111111, specialties_mask=0b1111111, years_experience=12
    )
    scored = engine.score_cleaners_for_job(job, limit=500)
    by_id = dict(zip(scored.ids.tolist(), scored.neural_score.tolist()))
    assert newcomer.pk in by_id and pro.pk in by_id
    assert 0.0 < by_id[newcomer.pk] < 1.0
    # The content part sees the specialty and the experience: not a constant for all unseen ids.
    assert by_id[pro.pk] != pytest.approx(by_id[newcomer.pk], abs=1e-4)


@pytest.mark.django_db
def test_it_falls_back_to_rule_based_without_a_model(settings, tmp_path) -> None:
    settings.RECOMMENDATION_MODELS_DIR = tmp_path
    with pytest.warns(RuntimeWarning, match="no trained model is active"):
        engine = RecommendationEngine(mode="neural")
    assert engine.mode == "rule_based"
    assert engine.nn_model is None


def test_it_falls_back_to_rule_based_without_torch(marketplace) -> None:
    probe = (
        "import sys, warnings; sys.modules['torch'] = None\n"
        "import django; django.setup()\n"
        "from workers.recommend.engine import RecommendationEngine\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    e = RecommendationEngine(mode='ensemble')\n"
        "print('MODE=' + e.mode); print('WARN=' + '|'.join(str(x.message) for x in w))\n"
    )
    from django.conf import settings

    env = {
        **__import__("os").environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "RECOMMENDATION_MODELS_DIR": str(marketplace["models"]),
    }
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "MODE=rule_based" in out.stdout
    assert f"WARN={NO_TORCH_WARNING}" in out.stdout
    assert settings.RECOMMENDATION_MODE == "ensemble"


@pytest.mark.django_db
def test_it_keeps_serving_when_the_new_version_is_corrupt(marketplace, tmp_path) -> None:
    import shutil

    for p in marketplace["models"].iterdir():
        if p.name.startswith("hybrid_recommendation_v1.0"):
            shutil.copy(p, tmp_path / p.name)
    active_version_write("1.0", tmp_path)
    manager = ModelManager(tmp_path)
    assert manager.refresh() and manager.version == "1.0"
    (tmp_path / "hybrid_recommendation_v2.0.pt").write_bytes(b"not a model")
    meta = (
        (tmp_path / "hybrid_recommendation_v1.0_metadata.json")
        .read_text()
        .replace('"version": "1.0"', '"version": "2.0"')
    )
    (tmp_path / "hybrid_recommendation_v2.0_metadata.json").write_text(meta)
    active_version_write("2.0", tmp_path)
    assert manager.refresh()  # still serving
    assert manager.version == "1.0"
    assert "2.0" in manager.last_error
    assert active_version_read(tmp_path) == "2.0"


@pytest.mark.django_db
def test_it_selects_candidates_in_one_query(django_assert_max_num_queries) -> None:
    owner = f.client()
    # Far from any other test data, so that the candidates are exactly the cleaners made here.
    prop = f.property_(owner, lat=45.0, lng=-70.0)
    job = f.job(owner, prop)
    ok = f.cleaner(home_lat=prop.lat, home_lng=prop.lng)
    f.cleaner(home_lat=prop.lat + 0.5, home_lng=prop.lng)  # 55 km away: out of range
    f.cleaner(home_lat=prop.lat, home_lng=prop.lng, available_days_mask=0)  # never works
    f.cleaner(home_lat=prop.lat, home_lng=prop.lng, day_start_hour=12)  # starts too late
    blocked = f.cleaner(home_lat=prop.lat, home_lng=prop.lng)
    job.client.blocked_cleaners.add(blocked)
    busy = f.cleaner(home_lat=prop.lat, home_lng=prop.lng)
    f.job(scheduled_start=job.scheduled_start + timedelta(hours=1), status="assigned", assigned_cleaner=busy)
    for _ in range(20):
        f.cleaner(home_lat=prop.lat, home_lng=prop.lng)
    engine = RecommendationEngine(mode="rule_based")
    from workers.recommend.cleaner_table import cleaner_table

    cleaner_table.get()  # the worker's in-memory cleaner table, loaded once
    # Job context, exclusions and the cleaner table's look at its change log, whatever the number of candidates.
    with django_assert_max_num_queries(3):
        scored = engine.score_cleaners_for_job(job, limit=100)
    assert ok.pk in scored.ids
    assert scored.candidates == 21
    assert blocked.pk not in scored.ids and busy.pk not in scored.ids


@pytest.mark.django_db
def test_it_ranks_a_new_cleaner_in_the_middle() -> None:
    from app.recommendations.cleaner_scores import smoothed_quality

    q = smoothed_quality(np.array([0.0, 50.0, 10.0]), np.array([0.0, 5.0, 5.0]), prior_rating=7.0)
    assert q[2] < q[0] < q[1]


def _busiest_open_job(engine: RecommendationEngine) -> tuple[CleaningJob, int]:
    jobs = CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).select_related("property")
    return max(((j, engine.score_cleaners_for_job(j, 1).candidates) for j in jobs), key=lambda x: x[1])


@pytest.mark.django_db
def test_it_scores_only_the_first_stage_top_k_and_orders_them_as_scoring_all_would(marketplace, settings) -> None:
    settings.RECOMMENDATION_MODELS_DIR = marketplace["models"]
    settings.RECOMMENDATION_FIRST_STAGE_LIMIT = 0
    engine = RecommendationEngine(mode="ensemble")
    job, n = _busiest_open_job(engine)
    full = engine.score_cleaners_for_job(job, limit=100)
    k = n // 2
    assert k >= 3, n
    settings.RECOMMENDATION_FIRST_STAGE_LIMIT = k
    cut = engine.score_cleaners_for_job(job, limit=k)
    by_rule = sorted(zip((-full.rule_based_score).tolist(), full.ids.tolist(), strict=True))[:k]
    assert cut.candidates == n and len(cut.ids) == k
    assert set(cut.ids.tolist()) == {pk for _, pk in by_rule}  # exactly the top k by rule score
    kept = np.isin(full.ids, cut.ids)
    assert cut.ids.tolist() == full.ids[kept].tolist()  # in the order scoring every candidate gives them
    np.testing.assert_allclose(cut.score, full.score[kept], rtol=1e-6)
    np.testing.assert_allclose(cut.neural_score, full.neural_score[kept], rtol=1e-6)


@pytest.mark.django_db
def test_it_cuts_nothing_when_the_candidates_are_at_most_k(marketplace, settings) -> None:
    settings.RECOMMENDATION_MODELS_DIR = marketplace["models"]
    settings.RECOMMENDATION_FIRST_STAGE_LIMIT = 0
    engine = RecommendationEngine(mode="ensemble")
    job, n = _busiest_open_job(engine)
    full = engine.score_cleaners_for_job(job, limit=n)
    settings.RECOMMENDATION_FIRST_STAGE_LIMIT = n
    at_k = engine.score_cleaners_for_job(job, limit=n)
    assert at_k.ids.tolist() == full.ids.tolist() and len(at_k.ids) == n
    settings.RECOMMENDATION_FIRST_STAGE_LIMIT = 2  # below the asked limit: the limit wins
    assert engine.score_cleaners_for_job(job, limit=n).ids.tolist() == full.ids.tolist()


@pytest.mark.django_db
def test_ties_at_the_limit_go_to_the_lower_ids_whatever_the_tables_row_order() -> None:
    # Catch-ups reorder a worker's table (a removed row takes the last row's place), so two
    # workers hold the same cleaners in different orders: they must give the same answer.
    owner = f.client()
    prop = f.property_(owner, lat=46.0, lng=-71.0)  # far from other test data
    job = f.job(owner, prop)
    gone, *same = [f.cleaner(home_lat=prop.lat, home_lng=prop.lng) for _ in range(5)]  # identical: tied
    engine = RecommendationEngine(mode="rule_based")
    from workers.recommend.cleaner_table import cleaner_table

    cleaner_table.get()
    type(gone).objects.filter(pk=gone.pk).update(is_active=False)  # the last row moves to its place
    caught_up = engine.score_cleaners_for_job(job, limit=2)
    cleaner_table.invalidate()  # a worker that loaded everything since, in id order
    fresh = engine.score_cleaners_for_job(job, limit=2)

    assert len(set(caught_up.score.tolist() + fresh.score.tolist())) == 1, "not a tie: proves nothing"
    assert fresh.ids.tolist() == [same[0].pk, same[1].pk]
    assert caught_up.ids.tolist() == fresh.ids.tolist()


def _scored_the_plain_way(engine: RecommendationEngine, job: CleaningJob, limit: int, cut: int):
    """What scoring a job cost before the per-candidate stage was trimmed: every column of every
    candidate copied, the job's columns as full arrays, the distance computed again in the features."""
    from workers.recommend import candidates
    from workers.recommend import features as F
    from workers.recommend.cleaner_table import cleaner_table

    context = candidates.job_context_of(job)
    cleaners = candidates.candidate_cleaners_for_job(job=job, context=context, cleaners=cleaner_table.get())
    n = len(cleaners["cleaner_id"])
    job_cols = {key: np.full(n, context[key], dtype=np.float64) for key in F.JOB_COLUMNS}
    ids = cleaners["cleaner_id"]
    scored = engine.score_pairs(job_cols, cleaners, ids=ids, first_stage_limit=max(cut, limit) if cut > 0 else 0)
    return engine._top(ids, cleaners["external_id"], scored, limit)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["rule_based", "ensemble"])
def test_it_answers_exactly_as_scoring_every_candidates_columns_would(marketplace, settings, mode) -> None:
    settings.RECOMMENDATION_MODELS_DIR = marketplace["models"]
    engine = RecommendationEngine(mode=mode)
    jobs = CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).select_related("property")
    compared = 0
    for job in jobs.order_by("pk")[:40]:
        if job.pk % 2:  # the client blocks every seventh candidate: rows the database excludes
            candidates = engine.score_cleaners_for_job(job, 10_000).ids
            job.client.blocked_cleaners.add(*candidates[::7].tolist())
        n = engine.score_cleaners_for_job(job, 1).candidates
        for limit, cut in ((10, 0), (3, max(n // 2, 3)), (n, 0)):
            settings.RECOMMENDATION_FIRST_STAGE_LIMIT = cut
            got, want = engine.score_cleaners_for_job(job, limit), _scored_the_plain_way(engine, job, limit, cut)
            assert (got.candidates, got.mode, got.model_version) == (want.candidates, want.mode, want.model_version)
            assert got.rows() == want.rows()  # ids, external ids, ranks, scores, components, as answered
            for name in ("ids", "score", "rule_based_score", "neural_score"):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
            assert got.components.keys() == want.components.keys()
            for name, column in got.components.items():
                np.testing.assert_array_equal(column, want.components[name], err_msg=name)
            compared += len(got.ids)
    assert compared > 100, compared
