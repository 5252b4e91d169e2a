"""A bid as the marketplace sends it.

    {"external_id": "bid-1-7", "job": "job-1", "cleaner": "cleaner-7", "amount": 120,
     "message": "Happy to help", "status": "pending"}

Required: job, cleaner, amount. `status`: pending (default), accepted, rejected or withdrawn.
A cleaner has at most one bid on a job: a second one under another external id is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from app.marketplace.ingest.entity import Entity, Pending, Refusal, Stored, refuse
from app.marketplace.ingest.fields import Choice, PositiveDecimal, Ref, Text
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.outcomes import ErrorKind
from app.marketplace.ingest.sql import OneOf, rows_upsert
from app.marketplace.models import Bid

NAMES = ("job", "cleaner", "amount", "message", "status")
WRITTEN = ("job_id", "cleaner_id", "amount", "message", "status")


class Bids(Entity):
    type = "bid"
    model = Bid
    fields = {
        "job": Ref("job"),
        "cleaner": Ref("cleaner"),
        "amount": PositiveDecimal(Decimal("99999999.99")),
        "message": Text(10_000),
        "status": Choice(Bid.Status.values, default=Bid.Status.PENDING.value),
    }

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        for pk, external_id, job_id, cleaner_id, *columns in queryset.values_list(
            "pk",
            "external_id",
            "job_id",
            "cleaner_id",
            "job__external_id",
            "cleaner__external_id",
            "amount",
            "message",
            "status",
        ):
            yield external_id, Stored(pk, dict(zip(NAMES, columns, strict=True)), (job_id, cleaner_id))

    def conflicts(self, pending: list[Pending]) -> dict[int, Refusal]:
        """A (job, cleaner) pair that another bid, stored or earlier in this call, has already."""
        out = super().conflicts(pending)
        pairs = {(p.refs["job"].pk, p.refs["cleaner"].pk): p for p in pending}
        stored = Bid.objects.filter(
            OneOf("job_id", {job for job, _ in pairs}), OneOf("cleaner_id", {cleaner for _, cleaner in pairs})
        ).values_list("job_id", "cleaner_id", "external_id")
        holder = {(job, cleaner): external_id for job, cleaner, external_id in stored}
        for p in pending:
            pair = (p.refs["job"].pk, p.refs["cleaner"].pk)
            other = holder.setdefault(pair, p.external_id)
            if other != p.external_id:
                message = f"{p.values['cleaner']!r} has a bid on {p.values['job']!r} already: {other!r}"
                out.setdefault(p.index, refuse(ErrorKind.CONFLICT, "cleaner", message))
        return out

    def write(self, pending: list[Pending], changes: Changes) -> None:
        rows = [
            (p.external_id, p.refs["job"].pk, p.refs["cleaner"].pk, *(p.values[n] for n in NAMES[2:])) for p in pending
        ]
        same = {"created_at": timezone.now()}
        ids = rows_upsert(Bid, ("external_id", *WRITTEN), rows, key="external_id", update=WRITTEN, same=same)
        for p in pending:
            p.pk = ids[p.external_id]
            changes.bid(p.refs["job"].pk, p.refs["cleaner"].pk)
            changes.scores.add(p.refs["cleaner"].pk)
            if p.stored is not None:
                changes.bid(*p.stored.extra)
