"""Observability: Prometheus metrics, JSON logs and the request id that ties a request to its tasks.

- `context` — the request id and task id of the code running now (contextvars);
- `middleware` — gives every HTTP request an id and times it per route;
- `propagation` — carries the id through Celery messages into the worker;
- `logging` — a JSON-lines formatter and the filter that stamps the ids on every record;
- `metrics`, `collectors`, `views` — the web's `/metrics`.

The worker's side of the metrics (task durations, failures, retries, its own `/metrics`) is
`workers/metrics.py`.
"""
