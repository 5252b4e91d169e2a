"""Signed webhooks (Standard Webhooks): endpoints, deliveries, SSRF-safe sending.

What is sent. When a recommendation request finishes (succeeded or failed), its result goes to
the request's `callback_url`, if it has one, and to every active endpoint its requester has
registered (`/api/v1/webhook-endpoints/`). The body is the Standard Webhooks envelope::

    {"type": "recommendation_request.finished", "timestamp": "<finished_at>",
     "data": <the request exactly as GET /api/v1/recommendation-requests/<id>/ shows it>}

with the headers `webhook-id` (the message id: the same on every retry, so receivers can
de-duplicate), `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature`
(`v1,` + base64 HMAC-SHA256 of "id.timestamp.body"); verify with any Standard Webhooks
library, e.g. `standardwebhooks.Webhook(secret).verify(body, headers)`.

Which secret signs. A registered endpoint has its own secret, shown once, in the response
that creates it. A `callback_url` is signed with the account's *callback secret*: one per
user, created on first use (when first read, or when the first callback is sent), read with
`GET /api/v1/webhook-callback-secret/` and replaced with `POST` to the same URL. Unlike an
endpoint secret it can be read again: a caller needs it before making the request whose
callback it verifies. Retries are signed with the secret current at the time of the attempt.

Delivery. Only a 2xx answer delivers. 410 Gone disables the endpoint (and ends a callback's
delivery). Anything else — another status, a redirect (never followed), a timeout (10 s for
the whole exchange once the address is resolved), a connection error, an address refused by the SSRF check — is retried
after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h (full jitter: each a random delay
up to that step; setting WEBHOOK_RETRY_SCHEDULE); after the last, the delivery is failed.
Every attempt is recorded (`WebhookAttempt`).

SSRF. Target URLs are checked when registered or submitted and again at every attempt, against
the addresses their host resolves to then; the connection goes to the address checked. See
`app.webhooks.ssrf` for what is refused and the WEBHOOK_ALLOWED_HOSTS development escape hatch.
"""
