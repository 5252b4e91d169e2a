"""The hybrid model on synthetic data whose hidden structure is known (see synthetic.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.workers.ml.synthetic import FACTOR_HEAVY, FEATURE_NAMES, make_split, subset
from workers.ml.hybrid import InteractionArrays, predict, train_hybrid
from workers.ml.metrics import rating_metrics

UNSEEN_ID = -1  # never a training id: the generator's ids are all positive


def with_ids(data: InteractionArrays, *, client: int | None = None, cleaner: int | None = None):
    """A copy of ``data`` with every client id and/or cleaner id replaced."""
    n = len(data)
    return dataclasses.replace(
        data,
        client_ids=data.client_ids if client is None else np.full(n, client, np.int64),
        cleaner_ids=data.cleaner_ids if cleaner is None else np.full(n, cleaner, np.int64),
    )


def r2(pred: np.ndarray, target: np.ndarray) -> float:
    return rating_metrics(pred, target)["r2"]


def test_it_beats_the_mean_and_approaches_the_noise_free_ceiling(synthetic, trained):
    test = synthetic.test
    model_r2 = r2(predict(trained.result.model, test), test.targets)
    mean_r2 = r2(np.full(len(test), synthetic.train.targets.mean()), test.targets)
    ceiling = r2(synthetic.test_clean_targets, test.targets)

    assert mean_r2 < 0.01
    assert model_r2 > 0.85, f"held-out R² {model_r2:.3f}"
    assert model_r2 > ceiling - 0.05, f"R² {model_r2:.3f} is far below the ceiling {ceiling:.3f}"


def test_it_gets_real_lift_from_the_collaborative_part(synthetic, trained):
    # The same rows scored as if the clients were new: content part only.
    test = synthetic.test
    hybrid_r2 = r2(predict(trained.result.model, test), test.targets)
    content_r2 = r2(predict(trained.result.model, with_ids(test, client=UNSEEN_ID)), test.targets)
    assert hybrid_r2 > content_r2 + 0.3


def test_it_generalises_with_nine_ratings_per_client():
    # The production regime: few ratings per client, so embeddings must be regularised.
    sparse = make_split(n_clients=300, ratings_per_client=13, seed=3)
    result = train_hybrid(sparse.train, sparse.val, seed=1, **FACTOR_HEAVY)
    assert r2(predict(result.model, sparse.test), sparse.test.targets) > 0.75


def test_it_reports_alpha_and_losses_every_epoch(trained):
    history = trained.result.history
    assert trained.reported == history
    assert [stats.epoch for stats in history] == list(range(1, len(history) + 1))
    assert all(0.0 < stats.alpha < 1.0 for stats in history)
    assert all(np.isfinite([stats.train_loss, stats.val_loss]).all() for stats in history)
    assert history[-1].train_loss < history[0].train_loss


def test_it_restores_the_best_epoch_and_records_early_stopping(synthetic, trained):
    metrics, history = trained.result.metrics, trained.result.history
    best = min(history, key=lambda stats: stats.val_loss)
    assert metrics["best_epoch"] == best.epoch
    assert metrics["epochs_run"] == len(history)
    assert metrics["stopped_early"] is True, "use more epochs in the fixture so it stops early"
    assert len(history) == best.epoch + trained.patience

    val_pred = predict(trained.result.model, synthetic.val)
    assert metrics["val_mse"] == pytest.approx(best.val_loss, rel=1e-5)
    assert metrics["val_r2"] == pytest.approx(r2(val_pred, synthetic.val.targets))


def test_it_scores_unseen_ids_with_the_content_part_alone(synthetic, trained):
    model, test = trained.result.model, synthetic.test
    new_client = predict(model, with_ids(test, client=UNSEEN_ID))
    new_cleaner = predict(model, with_ids(test, cleaner=UNSEEN_ID))
    both_new = predict(model, with_ids(test, client=UNSEEN_ID, cleaner=UNSEEN_ID - 1))

    features = np.concatenate([test.client_features, test.cleaner_features, test.pair_features], axis=1)
    normalised = (features - model.feature_mean) / model.feature_std
    with torch.inference_mode():
        content_only = torch.sigmoid(model.network.content(torch.from_numpy(normalised))).squeeze(1)

    np.testing.assert_array_equal(new_client, both_new)
    np.testing.assert_array_equal(new_cleaner, both_new)
    np.testing.assert_allclose(both_new, content_only.numpy(), rtol=1e-6)
    assert np.isfinite(both_new).all() and ((both_new >= 0) & (both_new <= 1)).all()
    # It follows the features, and well enough to be worth serving.
    assert both_new.std() > 0.05
    assert r2(both_new, test.targets) > 0.3
    assert not np.allclose(both_new, predict(model, test))


def test_it_is_deterministic_for_a_seed(synthetic):
    small = subset(synthetic.train, np.arange(len(synthetic.train)) < 1200)

    def run(seed: int) -> np.ndarray:
        result = train_hybrid(small, synthetic.val, epochs=4, seed=seed)
        return predict(result.model, synthetic.test)

    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_it_leaves_the_callers_torch_rng_alone(synthetic):
    small = subset(synthetic.train, np.arange(len(synthetic.train)) < 300)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_hybrid(small, synthetic.val, epochs=1, seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_it_keeps_feature_names_and_normalisation_from_training(synthetic, trained):
    model = trained.result.model
    assert model.feature_names == FEATURE_NAMES
    train = synthetic.train
    features = np.concatenate([train.client_features, train.cleaner_features, train.pair_features], axis=1)
    np.testing.assert_allclose(model.feature_mean, features.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(model.feature_std, features.std(axis=0), rtol=1e-3)


def test_it_centres_but_does_not_scale_a_constant_column(synthetic):
    train = dataclasses.replace(synthetic.train, pair_features=np.full((len(synthetic.train), 1), 3.0, np.float32))
    val = dataclasses.replace(synthetic.val, pair_features=np.full((len(synthetic.val), 1), 3.0, np.float32))
    model = train_hybrid(train, val, epochs=1).model
    assert model.feature_std[-1] == 1.0
    shifted = dataclasses.replace(val, pair_features=val.pair_features + 1.0)
    assert np.isfinite(predict(model, shifted)).all()


def test_it_predicts_an_empty_batch(synthetic, trained):
    empty = subset(synthetic.test, np.zeros(len(synthetic.test), bool))
    assert predict(trained.result.model, empty).shape == (0,)


def test_it_rejects_features_of_the_wrong_width(synthetic, trained):
    wrong = dataclasses.replace(synthetic.test, pair_features=np.zeros((len(synthetic.test), 2)))
    with pytest.raises(ValueError, match="pair_features has shape"):
        predict(trained.result.model, wrong)


def test_it_rejects_bad_training_data(synthetic):
    out_of_range = dataclasses.replace(synthetic.train, targets=synthetic.train.targets * 10)
    with pytest.raises(ValueError, match=r"targets must be .* in \[0, 1\]"):
        train_hybrid(out_of_range, synthetic.val)

    features = synthetic.train.client_features.copy()
    features[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_hybrid(dataclasses.replace(synthetic.train, client_features=features), synthetic.val)

    with pytest.raises(ValueError, match="targets"):
        train_hybrid(synthetic.train, dataclasses.replace(synthetic.val, targets=None))


def test_it_checks_feature_names_against_the_columns(synthetic):
    names = {**FEATURE_NAMES, "pair": ["distance_km", "extra"]}
    with pytest.raises(ValueError, match=r"feature_names\['pair'\] has 2 names for 1 columns"):
        train_hybrid(synthetic.train, synthetic.val, feature_names=names)
