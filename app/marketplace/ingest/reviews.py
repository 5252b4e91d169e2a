"""A review as the marketplace sends it.

    {"external_id": "review-1", "job": "job-1", "cleaner": "cleaner-7", "rating": 9,
     "on_time": true, "comment": "Spotless"}

Required: job, cleaner (the one reviewed), rating (1 to 10). The reviewer is the job's client.
A job has at most one review: a second one under another external id is refused. Reviews
move a cleaner's quality score at its next refresh (app/recommendations/cleaner_scores.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from app.marketplace.ingest.entity import Entity, Pending, Refusal, Stored, refuse
from app.marketplace.ingest.fields import Boolean, Integer, Ref, Text
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.outcomes import ErrorKind
from app.marketplace.ingest.sql import OneOf, rows_upsert
from app.marketplace.models import Review

NAMES = ("job", "cleaner", "rating", "on_time", "comment")
WRITTEN = ("job_id", "cleaner_id", "client_id", "rating", "on_time", "comment")


class Reviews(Entity):
    type = "review"
    model = Review
    fields = {
        "job": Ref("job"),
        "cleaner": Ref("cleaner"),
        "rating": Integer(1, 10),
        "on_time": Boolean(default=True),
        "comment": Text(10_000),
    }

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        for pk, external_id, *columns in queryset.values_list(
            "pk", "external_id", "job__external_id", "cleaner__external_id", "rating", "on_time", "comment"
        ):
            yield external_id, Stored(pk, dict(zip(NAMES, columns, strict=True)))

    def conflicts(self, pending: list[Pending]) -> dict[int, Refusal]:
        """A job that another review, stored or earlier in this call, is about already."""
        out = super().conflicts(pending)
        jobs = {p.refs["job"].pk for p in pending}
        holder = dict(Review.objects.filter(OneOf("job_id", jobs)).values_list("job_id", "external_id"))
        for p in pending:
            other = holder.setdefault(p.refs["job"].pk, p.external_id)
            if other != p.external_id:
                message = f"{p.values['job']!r} has a review already: {other!r}"
                out.setdefault(p.index, refuse(ErrorKind.CONFLICT, "job", message))
        return out

    def write(self, pending: list[Pending], changes: Changes) -> None:
        rows = [
            (
                p.external_id,
                p.refs["job"].pk,
                p.refs["cleaner"].pk,
                p.refs["job"].client,
                *(p.values[n] for n in NAMES[2:]),
            )
            for p in pending
        ]
        same = {"created_at": timezone.now()}
        ids = rows_upsert(Review, ("external_id", *WRITTEN), rows, key="external_id", update=WRITTEN, same=same)
        for p in pending:
            p.pk = ids[p.external_id]
            changes.scores.add(p.refs["cleaner"].pk)
