"""REST API of the recommendation service."""
