"""Reads for monitoring: how often recommendations are viewed, bid on, accepted and hired.

The counts are the deployment guide's monitoring query, computed in SQL::

    SELECT COUNT(*), SUM(was_viewed), SUM(was_bid_placed), SUM(was_bid_accepted)
    FROM job_recommendations WHERE created_at >= now() - interval '30 days' [GROUP BY ...]

and the rates follow the funnel, each step over the one before it:

    job recommendations (shown to cleaners)    view_rate = viewed / total
                                               bid_rate = bid_placed / viewed
                                               acceptance_rate = accepted / bid_placed
    cleaner recommendations (shown to clients) view_rate = viewed / total
                                               hire_rate = hired / viewed

A rate whose denominator is 0 is `None` (JSON null), not 0: "nobody viewed anything yet" is
not "nobody who viewed went on to bid". Counts are of flags exactly as the guide's query sums
them; feedback may set a later flag without an earlier one (a `hired` event marks a job
recommendation accepted without a recorded bid), so a rate can exceed 1 on such data.

Each breakdown (overall, per variant, per model version, per day) is one query, written with
portable `SUM(CASE WHEN ...)` aggregates so it runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate

from app.recommendations.models import CleanerRecommendation, JobRecommendation


@dataclass(frozen=True)
class Funnel:
    """One recommendation table's counts (name -> boolean field) and rates (name -> (numerator, denominator))."""

    model: type
    flags: dict[str, str]
    rates: dict[str, tuple[str, str]]


JOB_FUNNEL = Funnel(
    model=JobRecommendation,
    flags={"viewed": "was_viewed", "bid_placed": "was_bid_placed", "accepted": "was_bid_accepted"},
    rates={
        "view_rate": ("viewed", "total"),
        "bid_rate": ("bid_placed", "viewed"),
        "acceptance_rate": ("accepted", "bid_placed"),
    },
)
CLEANER_FUNNEL = Funnel(
    model=CleanerRecommendation,
    flags={"viewed": "was_viewed", "hired": "was_hired"},
    rates={"view_rate": ("viewed", "total"), "hire_rate": ("hired", "viewed")},
)


def count_where(condition: Q) -> Sum:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): the guide's SUM(flag), portable across databases."""
    return Sum(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _aggregates(funnel: Funnel) -> dict:
    return {"total": Count("pk"), **{name: count_where(Q(**{field: True})) for name, field in funnel.flags.items()}}


def _with_rates(funnel: Funnel, counts: dict) -> dict:
    # SUM over no rows is NULL: an empty window counts 0 everywhere.
    out = {name: int(counts.get(name) or 0) for name in ("total", *funnel.flags)}
    out.update({name: rate(out[num], out[den]) for name, (num, den) in funnel.rates.items()})
    return out


def rows_between(funnel: Funnel, *, since: datetime, until: datetime) -> QuerySet:
    return funnel.model.objects.filter(created_at__gte=since, created_at__lt=until)


def funnel_overall(funnel: Funnel, rows: QuerySet) -> dict:
    return _with_rates(funnel, rows.aggregate(**_aggregates(funnel)))


def funnel_by(funnel: Funnel, rows: QuerySet, key: str, expression=None, **extra) -> list[dict]:
    """One row per value of `key` (a field, or `expression` named `key`), counts and rates; one query.

    `extra` adds aggregates (e.g. `count_where(...)`) to each row as they are.
    """
    grouped = rows.values(**{key: expression}) if expression is not None else rows.values(key)
    result = []
    for row in grouped.annotate(**_aggregates(funnel), **extra).order_by(key):
        counts = _with_rates(funnel, row)
        counts.update({name: int(row[name] or 0) for name in extra})
        result.append({key: row[key], **counts})
    return result


def funnel_breakdowns(funnel: Funnel, *, since: datetime, until: datetime) -> dict:
    rows = rows_between(funnel, since=since, until=until)
    by_variant = funnel_by(funnel, rows, "variant")
    for entry in by_variant:
        entry["variant"] = entry["variant"] or None  # "" = served outside any experiment
    by_version = funnel_by(funnel, rows, "model_version")
    for entry in by_version:
        entry["model_version"] = entry["model_version"] or None  # "" = rule-based, no model
    by_day = funnel_by(funnel, rows, "day", TruncDate("created_at"))
    for entry in by_day:
        entry["day"] = entry["day"].isoformat()
    return {
        "overall": funnel_overall(funnel, rows),
        "by_variant": by_variant,
        "by_model_version": by_version,
        "by_day": by_day,
    }


def recommendation_stats(*, since: datetime, until: datetime) -> dict:
    """View, bid, acceptance and hire rates of recommendations created in [since, until)."""
    return {
        "since": since,
        "until": until,
        "job_recommendations": funnel_breakdowns(JOB_FUNNEL, since=since, until=until),
        "cleaner_recommendations": funnel_breakdowns(CLEANER_FUNNEL, since=since, until=until),
    }


# name: (table, the flag of the denominator, the flag of the numerator)
RATES = {
    "job_view_to_bid": (JobRecommendation, "was_viewed", "was_bid_placed"),
    "job_bid_to_accepted": (JobRecommendation, "was_bid_placed", "was_bid_accepted"),
    "cleaner_view_to_hire": (CleanerRecommendation, "was_viewed", "was_hired"),
}


def online_rates(*, since: datetime, until: datetime) -> dict:
    """Each funnel rate of the recommendations created in [since, until): hits / n, with both counts."""
    rates = {}
    for name, (table, of, hit) in RATES.items():
        counts = table.objects.filter(created_at__gte=since, created_at__lt=until, **{of: True}).aggregate(
            n=Count("pk"), hits=Count("pk", filter=Q(**{hit: True}))
        )
        n, hits = counts["n"], counts["hits"]
        rates[name] = {"n": n, "hits": hits, "rate": hits / n if n else None}
    return {"since": since.isoformat(), "until": until.isoformat(), "rates": rates}
