"""Django apps of the recommendation service."""
