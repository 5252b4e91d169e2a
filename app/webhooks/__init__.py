"""Signed webhooks (Standard Webhooks): endpoints, deliveries, SSRF-safe sending.

A finished request goes to its `callback_url` and to its requester's registered endpoints,
signed with the endpoint's secret or the account's callback secret; only a 2xx delivers, 410
disables, anything else is retried with jittered backoff; every URL is checked against SSRF
when registered and again at every attempt. What is sent, which secret signs, the retry
schedule: docs/webhooks.md.
"""
