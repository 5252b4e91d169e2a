"""What the first-stage cut costs in ranking quality, on a generated marketplace whose truth is known.

Every candidate of each validation job is ranked against the generator's noise-free expected
rating (`app.synthetic.generator.truth`). A cut that keeps half the pool must cost nothing
beyond noise; a cut to a handful must show a loss, or the comparison could not tell.
"""

from __future__ import annotations

import pytest

from app.recommendations.cleaner_scores import cleaner_scores_refresh
from app.synthetic.generator import training_data_clear, training_data_generate
from app.synthetic.generator.truth import relevance_of
from workers.training.data import training_set_load
from workers.training.first_stage import first_stage_evaluate
from workers.training.train import final_scorers, model_train

JOBS, CLEANERS, CLIENTS, SEED = 1500, 1500, 150, 11
HANDFUL, HALF = 5, 150  # of pools of about 300 candidates


@pytest.fixture(scope="module")
def comparison(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        training_data_generate(jobs=JOBS, cleaners=CLEANERS, clients=CLIENTS, seed=SEED)
        cleaner_scores_refresh()
        report = model_train(version="1.0", models_dir=tmp_path_factory.mktemp("models"), seed=SEED, save=False)
        truth = relevance_of(jobs=JOBS, cleaners=CLEANERS, clients=CLIENTS, seed=SEED)
        scorers = final_scorers(report.model)
        result = first_stage_evaluate(training_set_load(), scorers, limits=[HANDFUL, HALF], relevance_of=truth)
    yield result
    with django_db_blocker.unblock():
        training_data_clear()


def _cut(result: dict, limit: int) -> dict:
    return next(c for c in result["cuts"] if c["limit"] == limit)["with_cut"]["ensemble"]


@pytest.mark.django_db
def test_it_ranks_whole_pools_larger_than_the_cut(comparison) -> None:
    assert comparison["jobs"] > 50
    assert comparison["candidates_median"] >= 2 * HALF
    assert all(c["jobs_cut"] > 0.5 * comparison["jobs"] for c in comparison["cuts"]), comparison


@pytest.mark.django_db
def test_it_loses_nothing_beyond_noise_when_the_cut_keeps_half(comparison) -> None:
    m = _cut(comparison, HALF)
    assert m["ndcg_at_5_loss"] <= 2 * m["ndcg_at_5_loss_se"] + 1e-9, m
    assert m["ndcg_at_5"] == pytest.approx(comparison["without_cut"]["ensemble"]["ndcg_at_5"], abs=0.01)


@pytest.mark.django_db
def test_it_shows_the_loss_of_a_cut_to_a_handful(comparison) -> None:
    m = _cut(comparison, HANDFUL)
    assert m["ndcg_at_5_loss"] > 2 * m["ndcg_at_5_loss_se"] > 0, m
