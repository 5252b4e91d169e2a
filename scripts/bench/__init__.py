"""`make bench` (`python -m scripts.bench`): the figures of BENCHMARKS.md, each next to a bare baseline.

1. Generating the seed-42 marketplace (5000 jobs, 200 cleaners, 500 clients): `generate`.
2. Importing it from its export files into an empty database, against a bare COPY of the
   same rows into plain tables measured in the same run: `ingest`. Then, in a database of its
   own grown to 2,000, 20,000 and 100,000 cleaners, the cost of a worker's cleaner table picking
   up one changed cleaner, beside a bare `SELECT 1` and a full load: `freshness`.
3. Training on it, loading from the database included; the validation metrics of the neural
   model, the ensemble, the rule-based scorer and a random order on the same jobs: `training`.
4. Scoring 200 candidate cleaners for one job in a worker-like process, features and SQL
   included, against a bare forward pass of the model for 200 rows: `scoring`.
5. End to end over HTTP: POST a request, GET ?wait for the result, through gunicorn and a real
   Celery worker; against a bare Celery round trip (a no-op task) measured in the same run.
   The first request after the worker starts is reported separately (cold start), and so is
   the same loop with Celery task events on (what a worker does while Flower watches it):
   `end_to_end`. The cached answer to the same question: `cached`.
6. What a full garbage collection costs a web and a worker process: `gc_pause`.
7. Scaling, in a database of its own (20,000 generated cleaners): what the first-stage cut
   costs in ranking quality against the generator's truth; cleaners for a job at 2,000, 20,000
   and 100,000 active cleaners, with and without the cut, beside a bare forward pass; jobs for
   a cleaner at 20,000 and 200,000 open jobs, with the open-jobs query's plan: `scaling`.

The bare baselines (HTTP, Celery, Redis, the forward pass) are in `baselines`; `harness` starts
the processes and times the loops; `report` prints each figure and writes BENCHMARKS.md.

It uses its own databases (`<name>_bench` and, for the import, freshness and scaling steps,
`<name>_bench_import`, `<name>_bench_freshness` and `<name>_bench_scaling` on the
PostgreSQL of DATABASE_URL, whose database is `<name>`; else SQLite files under var/) and its
own models directory, so it never touches your data.
"""
