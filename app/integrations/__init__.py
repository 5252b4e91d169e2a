"""Integration keys: the marketplace's backend calling this service, server to server."""
