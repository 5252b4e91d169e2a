"""The statistics on a job start's weekday and hour (migration 0005) match the SQL the ORM writes.

Without them PostgreSQL guesses those filters at a small fraction of their share and sorts every
open job instead of walking `job_status_start` (see the migration). If the ORM ever wrote these
expressions differently, the statistics would silently stop applying: the planner's estimate shows it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection

from app.marketplace.models import CleaningJob
from tests import factories as f

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's expression statistics"),
]

ROWS = 3000


def _estimated_rows(queryset) -> int:
    return int(re.search(r"rows=(\d+)", queryset.explain()).group(1))


def test_it_estimates_the_weekday_and_hour_filters_of_the_open_jobs_query() -> None:
    job = f.job()
    start = f.next_weekday_at(10)  # a weekday, 10:00 UTC: every row below matches
    CleaningJob.objects.bulk_create(
        [
            CleaningJob(
                property=job.property,
                client=job.client,
                service_type="standard",
                scheduled_start=start + timedelta(weeks=i % 50),
                scheduled_end=start + timedelta(weeks=i % 50, hours=3),
                duration_hours=3,
                budget=150,
                status=CleaningJob.Status.OPEN_FOR_BIDS,
            )
            for i in range(ROWS)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE marketplace_cleaningjob")
    queryset = CleaningJob.objects.filter(
        scheduled_start__iso_week_day__in=[start.isoweekday()], scheduled_start__hour__gte=8
    )
    # Without the statistics PostgreSQL guesses about 0.5% x 33% of the rows: a few.
    assert _estimated_rows(queryset) > ROWS / 2
