"""Placeholder kept small on purpose: recommendation cache invalidation hooks live here."""
