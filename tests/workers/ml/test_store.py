"""Model files: round trip, and a clear refusal for every way a file can go bad."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.workers.ml.synthetic import FEATURE_NAMES
from workers.ml import store
from workers.ml.hybrid import predict
from workers.ml.store import (
    FORMAT_VERSION,
    CorruptModelError,
    IncompatibleModelError,
    ModelNotFoundError,
    ModelStoreError,
    TamperedModelError,
    list_versions,
    load_model,
    read_metadata,
    save_model,
)


@pytest.fixture
def saved(tmp_path: Path, trained) -> tuple[Path, Path, Path]:
    """Version 1.0 of the shared trained model, saved in a fresh directory."""
    result = trained.result
    weights, metadata = save_model(
        result.model,
        tmp_path,
        "1.0",
        metrics=result.metrics,
        history=result.history,
        extra_metadata={"training_data": {"train_samples": 4500, "ranking": float("nan")}},
    )
    return tmp_path, weights, metadata


def rewrite_metadata(path: Path, **changes) -> None:
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


def test_it_round_trips_to_identical_predictions(saved, synthetic, trained):
    models_dir, _, _ = saved
    model, metadata = load_model(models_dir, "1.0", expected_features=FEATURE_NAMES)
    np.testing.assert_array_equal(predict(model, synthetic.test), predict(trained.result.model, synthetic.test))
    assert metadata["version"] == "1.0"
    assert model.feature_names == FEATURE_NAMES
    assert model.alpha == trained.result.model.alpha


def test_it_writes_the_documented_files_and_metadata(saved, trained):
    models_dir, weights, metadata_file = saved
    assert weights.name == "hybrid_recommendation_v1.0.pt"
    assert metadata_file.name == "hybrid_recommendation_v1.0_metadata.json"
    # Strict JSON: NaN from the caller became null rather than an invalid token.
    metadata = json.loads(metadata_file.read_text(), parse_constant=pytest.fail)

    assert set(metadata) == {
        "format_version", "model", "version", "created_at", "torch_version", "weights_file",
        "weights_sha256", "config", "feature_schema", "normalization", "vocabularies",
        "alpha", "metrics", "history", "extra",
    }  # fmt: skip
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert metadata["created_at"].endswith("+00:00")
    assert metadata["feature_schema"] == FEATURE_NAMES
    assert len(metadata["normalization"]["client"]["mean"]) == len(FEATURE_NAMES["client"])
    assert metadata["vocabularies"]["client_ids"] == trained.result.model.client_vocabulary.tolist()
    assert len(metadata["history"]) == trained.result.metrics["epochs_run"]
    assert metadata["extra"]["training_data"] == {"train_samples": 4500, "ranking": None}
    assert metadata == read_metadata(models_dir, "1.0")


def test_it_stores_only_tensors_in_the_weights_file(saved):
    _, weights, _ = saved
    state = torch.load(weights, weights_only=True)
    assert isinstance(state, dict) and state
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())


def test_it_leaves_no_temporary_files(saved):
    models_dir, weights, metadata = saved
    assert sorted(models_dir.iterdir()) == sorted([weights, metadata])


def test_it_cleans_up_when_a_write_fails(tmp_path, trained, monkeypatch):
    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_model(trained.result.model, tmp_path, "2.0")
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_to_overwrite_a_saved_version(saved, trained):
    models_dir, _, _ = saved
    with pytest.raises(ModelStoreError, match="immutable"):
        save_model(trained.result.model, models_dir, "1.0")


def test_it_refuses_tampered_weights(saved):
    models_dir, weights, _ = saved
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(TamperedModelError, match="sha256") as error:
        load_model(models_dir, "1.0")
    assert str(weights) in str(error.value)


def test_it_refuses_corrupt_weights_with_a_valid_checksum(saved):
    # Garbage that was checksummed as it was written: only torch.load can tell.
    models_dir, weights, metadata = saved
    weights.write_bytes(b"not a torch file")
    rewrite_metadata(metadata, weights_sha256=hashlib.sha256(b"not a torch file").hexdigest())
    with pytest.raises(CorruptModelError, match="retrain") as error:
        load_model(models_dir, "1.0")
    assert str(weights) in str(error.value)


def test_it_refuses_weights_that_do_not_fit_the_config(saved):
    models_dir, _, metadata = saved
    config = json.loads(metadata.read_text())["config"]
    rewrite_metadata(metadata, config={**config, "embedding_dim": config["embedding_dim"] + 1})
    with pytest.raises(CorruptModelError, match="do not describe the same model"):
        load_model(models_dir, "1.0")


def test_it_refuses_an_old_format_and_says_to_retrain(saved):
    models_dir, _, metadata = saved
    rewrite_metadata(metadata, format_version=FORMAT_VERSION - 1)
    with pytest.raises(IncompatibleModelError, match="retrain") as error:
        load_model(models_dir, "1.0")
    assert str(metadata) in str(error.value)


def test_it_refuses_metadata_that_is_not_json(saved):
    models_dir, _, metadata = saved
    metadata.write_text("{truncated")
    with pytest.raises(CorruptModelError, match="not valid JSON"):
        load_model(models_dir, "1.0")


def test_it_reports_missing_files(saved):
    models_dir, weights, metadata = saved
    with pytest.raises(ModelNotFoundError, match="never saved"):
        load_model(models_dir, "9.9")
    weights.unlink()
    with pytest.raises(ModelNotFoundError, match="missing"):
        load_model(models_dir, "1.0")
    metadata.unlink()
    with pytest.raises(ModelNotFoundError):
        read_metadata(models_dir, "1.0")


def test_it_refuses_a_model_trained_on_other_features(saved):
    models_dir, _, _ = saved
    renamed = {**FEATURE_NAMES, "pair": ["distance_miles"]}
    with pytest.raises(IncompatibleModelError, match="distance_miles"):
        load_model(models_dir, "1.0", expected_features=renamed)
    missing_side = {"client": FEATURE_NAMES["client"], "cleaner": FEATURE_NAMES["cleaner"]}
    with pytest.raises(IncompatibleModelError, match="other features"):
        load_model(models_dir, "1.0", expected_features=missing_side)


@pytest.mark.parametrize("version", ["", "../1.0", "a/b", "a\\b", "1 0", "v1\n", "x" * 65, None])
def test_it_rejects_unsafe_version_strings(tmp_path, trained, version):
    with pytest.raises(ValueError, match="Invalid model version"):
        save_model(trained.result.model, tmp_path, version)
    with pytest.raises(ValueError, match="Invalid model version"):
        load_model(tmp_path, version)
    assert list(tmp_path.iterdir()) == []


def test_it_lists_complete_versions_in_natural_order(tmp_path, trained):
    for version in ["10.0", "1.1", "2.0", "1.0", "1.10"]:
        save_model(trained.result.model, tmp_path, version)
    # Noise that is not a complete version: weights without metadata, a temp file.
    (tmp_path / "hybrid_recommendation_v3.0.pt").write_bytes(b"")
    (tmp_path / ".hybrid_recommendation_v4.0_metadata.json.abc.tmp").write_text("{}")
    assert list_versions(tmp_path) == ["1.0", "1.1", "1.10", "2.0", "10.0"]
    assert list_versions(tmp_path / "absent") == []


def test_it_derives_every_error_from_model_store_error():
    for error in (ModelNotFoundError, CorruptModelError, TamperedModelError, IncompatibleModelError):
        assert issubclass(error, ModelStoreError)


def test_it_writes_files_others_can_read(saved):
    _, weights, metadata = saved
    assert os.stat(weights).st_mode & 0o777 == 0o644
    assert os.stat(metadata).st_mode & 0o777 == 0o644
