"""Distances within a city, for candidate selection, features and the synthetic marketplace."""

from __future__ import annotations

import numpy as np

KM_PER_DEG_LAT = 111.32


def distance_km(lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray) -> np.ndarray:
    # Equirectangular: within a city the error against haversine is far below a metre per km.
    mean_lat = np.radians((lat1 + lat2) / 2.0)
    dx = (lng2 - lng1) * np.cos(mean_lat) * KM_PER_DEG_LAT
    dy = (lat2 - lat1) * KM_PER_DEG_LAT
    return np.sqrt(dx * dx + dy * dy)
