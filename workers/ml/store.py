"""Model files: save a trained hybrid model, and load it back only if it is intact.

A version is two files in ``models_dir``::

    hybrid_recommendation_v{version}.pt              state dict only (tensors)
    hybrid_recommendation_v{version}_metadata.json   everything else, see below

Both are written atomically (temporary file in the same directory, fsync, rename)
and the metadata goes last, so a version whose metadata exists is complete. A
version is immutable: saving over a complete one is refused.

The metadata holds ``format_version``, ``model``, ``version``, ``created_at`` (ISO
8601, UTC), ``torch_version``, ``weights_file``, ``weights_sha256``, ``config``
(network dimensions), ``feature_schema`` (names per side), ``normalization``
(mean and std per side), ``vocabularies`` (training ids per side), ``alpha``,
``metrics``, ``history`` and ``extra`` (the caller's ``extra_metadata``, e.g. a
summary of the training data).

Loading checks, in order: the files exist (``ModelNotFoundError``), the format
is the one this code writes (``IncompatibleModelError``), the weights match their
checksum (``TamperedModelError``), torch can read them without unpickling code
(``CorruptModelError``), the features match what the caller will feed
(``IncompatibleModelError``), and the tensors fit the network exactly. Every error
names the file and says what to do; the usual answer is to retrain.

``json_safe`` is how the metadata becomes valid JSON (NaN and infinity become null);
it is public so other worker code can write JSON the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workers import names
from workers.ml.hybrid import FEATURE_SIDES, EpochStats, HybridConfig, HybridModel, build_model

# 1: first format (state dict + JSON metadata with vocabularies and normalisation).
FORMAT_VERSION = 1


class ModelStoreError(Exception):
    """Base class: a model version cannot be saved or used as it is."""


class ModelNotFoundError(ModelStoreError):
    """A file of the version is missing."""


class CorruptModelError(ModelStoreError):
    """A file exists but cannot be read as what it should be."""


class TamperedModelError(ModelStoreError):
    """The weights file does not match the checksum recorded when it was saved."""


class IncompatibleModelError(ModelStoreError):
    """The file is intact but was made for another format or other features."""


def weights_path(models_dir: str | Path, version: str) -> Path:
    return Path(models_dir) / names.model_weights_file(_checked_version(version))


def metadata_path(models_dir: str | Path, version: str) -> Path:
    return Path(models_dir) / names.model_metadata_file(_checked_version(version))


def save_model(
    model: HybridModel,
    models_dir: str | Path,
    version: str,
    *,
    metrics: dict[str, Any] | None = None,
    history: Sequence[EpochStats] = (),
    extra_metadata: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write the version's weights, then its metadata; return both paths."""
    weights, metadata = weights_path(models_dir, version), metadata_path(models_dir, version)
    if metadata.exists():
        raise ModelStoreError(f"{metadata} already exists and model versions are immutable; save under a new version.")
    weights.parent.mkdir(parents=True, exist_ok=True)

    buffer = io.BytesIO()
    state = {name: t.detach().cpu().contiguous() for name, t in model.network.state_dict().items()}
    torch.save(state, buffer)
    weights_bytes = buffer.getvalue()
    _write_atomically(weights, weights_bytes)

    document = _metadata_document(model, version, weights.name, weights_bytes)
    document["metrics"] = metrics or {}
    document["history"] = [asdict(stats) for stats in history]
    document["extra"] = extra_metadata or {}
    # default=str: a datetime or Path in extra_metadata is recorded as text, not refused.
    text = json.dumps(json_safe(document), indent=2, allow_nan=False, default=str)
    _write_atomically(metadata, text.encode("utf-8"))
    return weights, metadata


def read_metadata(models_dir: str | Path, version: str) -> dict[str, Any]:
    """The version's metadata as saved, without checking format or weights."""
    path = metadata_path(models_dir, version)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelNotFoundError(
            f"{path} does not exist: model version {version!r} was never saved "
            "completely. Train and save it, or pick a version from list_versions()."
        ) from None
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptModelError(f"{path} is not valid JSON ({exc}); retrain the model.") from exc
    if not isinstance(document, dict):
        raise CorruptModelError(f"{path} does not hold a JSON object; retrain the model.")
    return document


def load_model(
    models_dir: str | Path,
    version: str,
    *,
    expected_features: dict[str, list[str]] | None = None,
) -> tuple[HybridModel, dict[str, Any]]:
    """Load and verify a version; see the module docstring for the checks."""
    metadata = read_metadata(models_dir, version)
    meta_file, weights = metadata_path(models_dir, version), weights_path(models_dir, version)
    _check_format(metadata, meta_file)
    try:
        # Read once: the bytes that are hashed are the bytes that are loaded.
        weights_bytes = weights.read_bytes()
    except FileNotFoundError:
        raise ModelNotFoundError(
            f"{weights} is missing although {meta_file} exists; retrain the model "
            "or restore the weights file from a backup."
        ) from None
    if hashlib.sha256(weights_bytes).hexdigest() != metadata.get("weights_sha256"):
        raise TamperedModelError(
            f"{weights} does not match the sha256 recorded in {meta_file}: it was "
            "changed after it was saved. Do not use it; retrain or restore the version."
        )
    try:
        state = torch.load(io.BytesIO(weights_bytes), weights_only=True, map_location="cpu")
    except Exception as exc:
        raise CorruptModelError(f"{weights} cannot be read as a state dict ({exc}); retrain the model.") from exc
    if expected_features is not None:
        _check_features(metadata, expected_features, meta_file)
    try:
        model = _model_from(metadata, state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CorruptModelError(
            f"{weights} and {meta_file} do not describe the same model ({exc}); retrain the model."
        ) from exc
    return model, metadata


def list_versions(models_dir: str | Path) -> list[str]:
    """Complete versions (those with metadata) in natural order: 1.9 < 1.10 < 2.0."""
    directory = Path(models_dir)
    if not directory.is_dir():
        return []
    versions = []
    for entry in directory.iterdir():
        match = names.MODEL_METADATA_PATTERN.fullmatch(entry.name)
        if match and names.model_version_valid(match["version"]):
            versions.append(match["version"])
    return sorted(versions, key=_natural_key)


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data: NaN and infinity become None (JSON has neither).

    Goes through dicts (keys become strings), lists, tuples and numpy arrays;
    numpy scalars become Python ones. Anything else is returned as it is.
    """
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _metadata_document(model: HybridModel, version: str, weights_name: str, weights_bytes: bytes) -> dict[str, Any]:
    config = model.config
    bounds = np.cumsum([0, config.n_client_features, config.n_cleaner_features])
    ends = [*bounds[1:], config.n_features]
    normalization = {
        side: {
            "mean": model.feature_mean[start:end].tolist(),
            "std": model.feature_std[start:end].tolist(),
        }
        for side, start, end in zip(FEATURE_SIDES, bounds, ends)
    }
    return {
        "format_version": FORMAT_VERSION,
        "model": names.MODEL_NAME,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),
        "weights_file": weights_name,
        "weights_sha256": hashlib.sha256(weights_bytes).hexdigest(),
        "config": config.to_dict(),
        "feature_schema": {side: list(model.feature_names[side]) for side in FEATURE_SIDES},
        "normalization": normalization,
        "vocabularies": {
            "client_ids": model.client_vocabulary.tolist(),
            "cleaner_ids": model.cleaner_vocabulary.tolist(),
        },
        "alpha": model.alpha,
    }


def _model_from(metadata: dict[str, Any], state: Any) -> HybridModel:
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise TypeError("the weights file does not hold a dict of tensors")
    normalization = metadata["normalization"]
    return build_model(
        HybridConfig.from_dict(metadata["config"]),
        state,
        client_vocabulary=np.asarray(metadata["vocabularies"]["client_ids"], dtype=np.int64),
        cleaner_vocabulary=np.asarray(metadata["vocabularies"]["cleaner_ids"], dtype=np.int64),
        feature_mean=np.concatenate([np.asarray(normalization[s]["mean"], dtype=np.float32) for s in FEATURE_SIDES]),
        feature_std=np.concatenate([np.asarray(normalization[s]["std"], dtype=np.float32) for s in FEATURE_SIDES]),
        feature_names={side: list(metadata["feature_schema"][side]) for side in FEATURE_SIDES},
    )


def _check_format(metadata: dict[str, Any], path: Path) -> None:
    found = metadata.get("format_version")
    if found != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} has model file format {found!r} but this code reads format "
            f"{FORMAT_VERSION}; retrain the model to write a new version."
        )


def _check_features(metadata: dict[str, Any], expected: dict[str, list[str]], path: Path) -> None:
    stored = metadata.get("feature_schema", {})
    differences = [
        f"{side}: model has {stored.get(side)}, caller has {list(expected.get(side, []))}"
        for side in FEATURE_SIDES
        if list(stored.get(side, [])) != list(expected.get(side, []))
    ]
    if differences:
        raise IncompatibleModelError(
            f"{path} was trained on other features ({'; '.join(differences)}); "
            "retrain the model on the current features."
        )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, rename over ``path``."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file 0600; other worker users must be able to read it.
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself survive a power cut; not possible on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _checked_version(version: str) -> str:
    if not names.model_version_valid(version):
        raise ValueError(
            f"Invalid model version {version!r}: use 1 to 64 characters from letters, digits, '.', '_' and '-'."
        )
    return version


def _natural_key(version: str) -> list[str | int]:
    # re.split with a group alternates text and digits, so parts line up by type.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", version))]
