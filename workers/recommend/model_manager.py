"""The loaded copy of the neural model this worker process serves from.

Which version is active is read from the pointer (app/recommendations/model_pointer.py): the
registry's Redis key, one GET per task, with the `ACTIVE` file as the fallback. A worker loads
the active model once when its process starts; `refresh()` swaps in a new version atomically
(the old model keeps serving until the new one is ready) and keeps the old one on any error.
torch is imported only when a model is loaded, so a worker without torch still serves
rule-based.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.recommendations.model_pointer import (
    ACTIVE_POINTER,
    active_version_published,
    active_version_read,
    forget_cached_answers,
    models_dir,
)

logger = logging.getLogger(__name__)

# A version named by the Redis key that failed to load is tried again after this long, not on
# every task: reading and hashing a file per task would slow every request down.
RETRY_REFUSED_AFTER = 30.0
MAX_PINNED = 3  # versions besides the active one a process keeps loaded (A/B variants)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Any
    metadata: dict


class ModelManager:
    """Holds the loaded model of this process. `device` is where it runs: the CPU here."""

    device = "cpu"

    def __init__(self, directory: Path | None = None, *, follow_registry: bool | None = None) -> None:
        # The Redis key names a version of the configured directory: a manager given another
        # directory (tests, tools) follows that directory's ACTIVE file only.
        self.follow_registry = directory is None if follow_registry is None else follow_registry
        self.directory = directory or models_dir()
        self._refused: tuple[str, float] | None = None
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        self._pointer_stamp: int | None = None
        self._pinned: dict[str, LoadedModel] = {}
        self.last_error: str | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def model(self) -> Any:
        return self._loaded.model if self._loaded else None

    @property
    def version(self) -> str:
        return self._loaded.version if self._loaded else ""

    def refresh(self) -> bool:
        """Load the active version if it differs from the loaded one. True if a model is loaded."""
        if self.follow_registry and (published := active_version_published()) is not None:
            if self._loaded is not None and self._loaded.version == published:
                return True
            refused = self._refused
            if refused and refused[0] == published and time.monotonic() - refused[1] < RETRY_REFUSED_AFTER:
                return self._loaded is not None
            self._pointer_stamp = None  # re-read the file if the key disappears later
            return self.load(published)
        try:
            stamp = (self.directory / ACTIVE_POINTER).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp == self._pointer_stamp and self._loaded is not None:
            return True  # the pointer did not change since we loaded from it: no read needed
        self._pointer_stamp = stamp
        wanted = active_version_read(self.directory)
        if wanted is None:
            if self._loaded is not None:
                # The operator deactivated every model: serve rule-based from now on.
                logger.warning("no active model any more: unloading %s", self._loaded.version)
                self._loaded = None
                forget_cached_answers()
            return False
        if self._loaded and self._loaded.version == wanted:
            return True
        return self.load(wanted)

    def model_for(self, version: str) -> LoadedModel | None:
        """A specific version (an A/B variant pins one), loaded once and kept; None if unusable.

        The active model is returned as is; other versions are cached up to `MAX_PINNED`.
        """
        if self._loaded is not None and self._loaded.version == version:
            return self._loaded
        if version in self._pinned:
            return self._pinned[version]
        loaded = self._read(version)
        if loaded is not None:
            if len(self._pinned) >= MAX_PINNED:
                self._pinned.pop(next(iter(self._pinned)))
            self._pinned[version] = loaded
        return loaded

    def _read(self, version: str) -> LoadedModel | None:
        if not torch_available():
            self.last_error = "PyTorch is not installed"
            return None
        from workers.ml.store import ModelStoreError, load_model
        from workers.recommend.features import FEATURE_SCHEMA

        try:
            model, metadata = load_model(self.directory, version, expected_features=FEATURE_SCHEMA)
        except (ModelStoreError, ValueError) as exc:
            self.last_error = str(exc)
            logger.error("refusing model %s: %s (still serving %s)", version, exc, self.version or "rule-based")
            return None
        return LoadedModel(version=version, model=model, metadata=metadata)

    def load(self, version: str) -> bool:
        """Make `version` this process's active model; on any error keep the current one."""
        with self._lock:
            loaded = self._read(version)
            if loaded is None:
                # Keep serving what we had: a bad file must never take the service down.
                self._refused = (version, time.monotonic())
                return self._loaded is not None
            self._loaded = loaded
            self.last_error = None
            forget_cached_answers()
            logger.info("loaded model version %s from %s", version, self.directory)
            return True
