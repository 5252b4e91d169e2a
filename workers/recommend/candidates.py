"""Reads for recommendation: a job's context, its candidate cleaners, a cleaner's open jobs.

Each selector is one SQL query (plus the numpy filter on exact distance), never one per
candidate. The result is column-wise (see `features`), ready for vectorized scoring.
"""

from datetime import UTC, datetime

import numpy as np
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from app.marketplace.models import (
    SERVICE_BIT,
    SERVICE_TYPES,
    CleanerProfile,
    CleaningJob,
    ClientProfile,
    mask_to_services,
)
from app.recommendations.cleaner_scores import PRIOR_RATING, PRIOR_RELIABILITY, smoothed_quality
from app.recommendations.models import CleanerScore
from workers.recommend.features import PROPERTY_TYPES, distance_km

MAX_OPEN_JOBS_SCANNED = 2000
BUSY_STATUSES = (CleaningJob.Status.ASSIGNED, CleaningJob.Status.IN_PROGRESS)

_CLEANER_FIELDS = (
    "id",
    "home_lat",
    "home_lng",
    "service_radius_km",
    "hourly_rate",
    "years_experience",
    "services_mask",
    "specialties_mask",
    "available_days_mask",
    "day_start_hour",
    "day_end_hour",
    "verified",
    "score__quality",
    "score__reliability",
    "score__review_count",
    "external_id",
)
_JOB_FIELDS = (
    "id",
    "client_id",
    "property__lat",
    "property__lng",
    "service_type",
    "scheduled_start",
    "duration_hours",
    "budget",
    "property__property_type",
    "property__size_sqft",
    "property__bedrooms",
    "property__bathrooms",
    "property__has_pets",
    "external_id",
)
_DEFAULT_QUALITY = float(smoothed_quality(np.zeros(1), np.zeros(1), PRIOR_RATING)[0])


def _job_row_to_columns(row: tuple) -> dict[str, float | str]:
    (job_id, client_id, lat, lng, service, start, duration, budget, ptype, size, bedrooms, bathrooms, pets, ext) = row
    start = start.astimezone(UTC)
    start_hour = start.hour + start.minute / 60.0
    return {
        "job_id": job_id,
        "client_id": client_id,
        "lat": lat,
        "lng": lng,
        "service_idx": SERVICE_TYPES.index(service),
        "weekday": start.weekday(),
        "start_hour": start_hour,
        "end_hour": start_hour + float(duration),
        "duration_hours": float(duration),
        "budget": float(budget),
        "property_type_idx": PROPERTY_TYPES.index(ptype),
        "size_sqft": size,
        "bedrooms": bedrooms,
        "bathrooms": bathrooms,
        "has_pets": float(pets),
        # Not a feature: what the answer names the job by, beside its id.
        "external_id": ext,
    }


def _cleaner_rows_to_columns(rows: list[tuple]) -> dict[str, np.ndarray]:
    n = len(rows)
    cols = list(zip(*rows)) if rows else [()] * len(_CLEANER_FIELDS)
    out = {
        "cleaner_id": np.fromiter(cols[0], np.int64, n),
        "home_lat": np.fromiter(cols[1], np.float64, n),
        "home_lng": np.fromiter(cols[2], np.float64, n),
        "service_radius_km": np.fromiter(cols[3], np.float64, n),
        "hourly_rate": np.fromiter((float(x) for x in cols[4]), np.float64, n),
        "years_experience": np.fromiter(cols[5], np.float64, n),
        "services_mask": np.fromiter(cols[6], np.int64, n),
        "specialties_mask": np.fromiter(cols[7], np.int64, n),
        "available_days_mask": np.fromiter(cols[8], np.int64, n),
        "day_start_hour": np.fromiter(cols[9], np.float64, n),
        "day_end_hour": np.fromiter(cols[10], np.float64, n),
        "verified": np.fromiter(cols[11], np.float64, n),
        # A cleaner without a CleanerScore row yet is scored at the priors.
        "quality": np.fromiter((_DEFAULT_QUALITY if x is None else x for x in cols[12]), np.float64, n),
        "reliability": np.fromiter((PRIOR_RELIABILITY if x is None else x for x in cols[13]), np.float64, n),
        "review_count": np.fromiter((0 if x is None else x for x in cols[14]), np.float64, n),
        # Not a feature: what the answer names the cleaner by, beside its id. An object array of
        # the row's own strings, so a table of 100,000 cleaners costs only the pointers.
        "external_id": np.array(cols[15], dtype=object),
    }
    return out


def job_context_of(job: CleaningJob) -> dict[str, float | str]:
    """The context of a job whose property is already loaded (select_related): no query."""
    if "property" not in job._state.fields_cache:
        return job_context(job_id=job.pk)
    p = job.property
    return _job_row_to_columns(
        (
            job.pk,
            job.client_id,
            p.lat,
            p.lng,
            job.service_type,
            job.scheduled_start,
            job.duration_hours,
            job.budget,
            p.property_type,
            p.size_sqft,
            p.bedrooms,
            p.bathrooms,
            p.has_pets,
            job.external_id,
        )
    )


def job_context(*, job_id: int) -> dict[str, float | str] | None:
    row = CleaningJob.objects.filter(pk=job_id).values_list(*_JOB_FIELDS).first()
    return _job_row_to_columns(row) if row else None


def active_cleaner_columns() -> dict[str, np.ndarray]:
    """Scoring columns of every active cleaner (the worker holds them: see cleaner_table)."""
    rows = list(CleanerProfile.objects.filter(is_active=True).order_by("pk").values_list(*_CLEANER_FIELDS))
    return _cleaner_rows_to_columns(rows)


def _cleaners_of_sql() -> str:
    profiles, scores = CleanerProfile._meta.db_table, CleanerScore._meta.db_table
    columns = ", ".join(f"s.{name[7:]}" if name.startswith("score__") else f"p.{name}" for name in _CLEANER_FIELDS)
    return (
        f"SELECT {columns} FROM {profiles} p LEFT JOIN {scores} s ON s.cleaner_id = p.id "
        "WHERE p.is_active = %s AND p.id IN ({ids})"
    )


_CLEANERS_OF_SQL = _cleaners_of_sql()


def active_cleaner_columns_of(*, cleaner_ids: list[int]) -> dict[str, np.ndarray]:
    """Scoring columns of those of `cleaner_ids` that exist and are active: a table's catch-up.

    Raw SQL for the reason `unavailable_cleaner_ids` gives: building the ORM query cost about a
    millisecond, more than the query. The same columns as `active_cleaner_columns` (tested).
    """
    sql = _CLEANERS_OF_SQL.format(ids=", ".join(["%s"] * len(cleaner_ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [True, *cleaner_ids])
        return _cleaner_rows_to_columns(cursor.fetchall())


def unavailable_cleaner_ids(*, job: CleaningJob) -> set[int]:
    """Cleaners this job's client blocked, and cleaners busy with another job at that time.

    Raw SQL on purpose: it runs on every request, and the ORM's query building costs more
    than the query itself here. Same SQL on SQLite and PostgreSQL.
    """
    blocked = ClientProfile.blocked_cleaners.through._meta.db_table
    jobs = CleaningJob._meta.db_table
    sql = (
        f"SELECT cleanerprofile_id FROM {blocked} WHERE clientprofile_id = %s "
        f"UNION SELECT assigned_cleaner_id FROM {jobs} "
        "WHERE assigned_cleaner_id IS NOT NULL AND status IN (%s, %s) "
        "AND scheduled_start < %s AND scheduled_end > %s AND id <> %s"
    )
    # Adapted as the ORM would: SQLite compares date-times as text, and a parameter written with
    # an offset ("...+00:00") sorts after the same instant stored without one.
    adapt = connection.ops.adapt_datetimefield_value
    params = [job.client_id, *BUSY_STATUSES, adapt(job.scheduled_end), adapt(job.scheduled_start), job.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def eligible_cleaner_index(context: dict, cleaners: dict[str, np.ndarray]) -> np.ndarray:
    """Rows of `cleaners` who offer the job's service, work that weekday and those hours, and
    live within their own radius of it: the candidates before the database's exclusions."""
    return eligible_cleaners(context, cleaners)[0]


def eligible_cleaners(context: dict, cleaners: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`eligible_cleaner_index` and each of those rows' `distance_km` to the job (a pair feature:
    the engine reuses it rather than compute it twice)."""
    service_bit = SERVICE_BIT[SERVICE_TYPES[int(context["service_idx"])]]
    weekday_bit = 1 << int(context["weekday"])
    keep = (
        ((cleaners["services_mask"] & service_bit) > 0)
        & ((cleaners["available_days_mask"] & weekday_bit) > 0)
        & (cleaners["day_start_hour"] <= context["start_hour"])
        & (cleaners["day_end_hour"] >= context["end_hour"])
    )
    # Index arrays and `take`: indexing with a boolean mask is several times slower.
    idx = np.flatnonzero(keep)
    dist = distance_km(context["lat"], context["lng"], cleaners["home_lat"].take(idx), cleaners["home_lng"].take(idx))
    within = np.flatnonzero(dist <= cleaners["service_radius_km"].take(idx))
    return idx.take(within), dist.take(within)


def candidate_cleaner_rows(
    *, job: CleaningJob, context: dict[str, float | str], cleaners: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `candidate_cleaners_for_job` in `cleaners`, and their distances to the job."""
    idx, dist = eligible_cleaners(context, cleaners)
    excluded = unavailable_cleaner_ids(job=job)
    if excluded:
        allowed = ~np.isin(cleaners["cleaner_id"][idx], np.fromiter(excluded, np.int64, len(excluded)))
        idx, dist = idx[allowed], dist[allowed]
    return idx, dist


def candidate_cleaners_for_job(
    *, job: CleaningJob, context: dict[str, float | str], cleaners: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Of `cleaners` (all active ones), those who offer the service, work then, are in range,
    and are neither blocked by the client nor busy. One query, for the exclusions."""
    idx, _ = candidate_cleaner_rows(job=job, context=context, cleaners=cleaners)
    return {key: value[idx] for key, value in cleaners.items()}


def cleaner_columns(*, cleaner_id: int) -> dict[str, np.ndarray] | None:
    rows = list(CleanerProfile.objects.filter(pk=cleaner_id).values_list(*_CLEANER_FIELDS))
    return _cleaner_rows_to_columns(rows) if rows else None


def open_jobs_query(*, cleaner: CleanerProfile, now: datetime) -> QuerySet:
    """The open-jobs query of `open_jobs_for_cleaner`, rows as `_JOB_FIELDS`: the bench explains it."""
    radius = float(cleaner.service_radius_km)
    dlat = radius / 111.0
    dlng = radius / (111.0 * max(np.cos(np.radians(cleaner.home_lat)), 0.1))
    iso_days = [i + 1 for i in range(7) if cleaner.available_days_mask & (1 << i)]
    return (
        CleaningJob.objects.filter(
            status=CleaningJob.Status.OPEN_FOR_BIDS,
            client__isnull=False,  # a job whose client was deleted is history, never recommended
            scheduled_start__gt=now,
            service_type__in=mask_to_services(cleaner.services_mask),
            scheduled_start__iso_week_day__in=iso_days,
            scheduled_start__hour__gte=cleaner.day_start_hour,
            property__lat__range=(cleaner.home_lat - dlat, cleaner.home_lat + dlat),
            property__lng__range=(cleaner.home_lng - dlng, cleaner.home_lng + dlng),
        )
        .exclude(client__blocked_cleaners=cleaner.pk)
        .exclude(bids__cleaner=cleaner.pk)
        .exclude(
            Exists(
                CleaningJob.objects.filter(
                    assigned_cleaner=cleaner.pk,
                    status__in=BUSY_STATUSES,
                    scheduled_start__lt=OuterRef("scheduled_end"),
                    scheduled_end__gt=OuterRef("scheduled_start"),
                )
            )
        )
        .order_by("scheduled_start")
        .values_list(*_JOB_FIELDS)[:MAX_OPEN_JOBS_SCANNED]
    )


def open_jobs_for_cleaner(*, cleaner: CleanerProfile, now: datetime | None = None) -> list[dict[str, float | str]]:
    """Open future jobs this cleaner could take: service, weekday, hours, range, not blocked, no bid yet."""
    radius = float(cleaner.service_radius_km)
    rows = list(open_jobs_query(cleaner=cleaner, now=now or timezone.now()))
    jobs = [_job_row_to_columns(r) for r in rows]
    if not jobs:
        return []
    # The exact checks the SQL cannot make, on all rows at once: the end hour, the distance.
    end = np.fromiter((j["end_hour"] for j in jobs), np.float64, len(jobs))
    lat = np.fromiter((j["lat"] for j in jobs), np.float64, len(jobs))
    lng = np.fromiter((j["lng"] for j in jobs), np.float64, len(jobs))
    ok = (end <= cleaner.day_end_hour) & (distance_km(lat, lng, cleaner.home_lat, cleaner.home_lng) <= radius)
    return [j for j, keep in zip(jobs, ok.tolist(), strict=True) if keep]
