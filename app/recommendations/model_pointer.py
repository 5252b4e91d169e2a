"""Which neural model version is active: the pointer the registry writes and every worker reads.

The registry (`registry.model_version_activate`) sets the Redis key `recsvc:model:active`, so
a web process without the models volume can activate; the `ACTIVE` file in the models
directory is the fallback when the key is absent or Redis unreachable. No torch here.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings

from app.common.redis_client import client
from app.recommendations.cache import generation_bump

logger = logging.getLogger(__name__)

ACTIVE_POINTER = "ACTIVE"
ACTIVE_KEY = "recsvc:model:active"  # the registry's pointer; wins over the ACTIVE file


def models_dir() -> Path:
    return Path(settings.RECOMMENDATION_MODELS_DIR)


def active_version_read(directory: Path | None = None) -> str | None:
    """The version named in `<models dir>/ACTIVE`, or None when nothing was activated yet."""
    path = (directory or models_dir()) / ACTIVE_POINTER
    try:
        version = path.read_text().strip()
    except FileNotFoundError:
        return None
    return version or None


def active_version_write(version: str, directory: Path | None = None) -> None:
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    # Atomic: workers poll this file, and must never read half of it.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ACTIVE.")
    with os.fdopen(fd, "w") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / ACTIVE_POINTER)
    forget_cached_answers()


def active_version_published() -> str | None:
    """The version the registry's Redis key names; None when it is unset or Redis is unreachable."""
    try:
        value = client().get(ACTIVE_KEY)
    except Exception:  # fall back to the file; the broker is down too, so no task waits on us
        logger.warning("Redis unreachable: reading the active model version from the ACTIVE file")
        return None
    return value.decode() if value else None


def forget_cached_answers() -> None:
    """Cached answers of the previous model are stale. Bumped on activation and again by each
    worker when it swaps models, so nothing computed by a not-yet-swapped worker survives."""
    generation_bump("model")
