"""Signed webhooks (Standard Webhooks): endpoints, deliveries, SSRF-safe sending."""
