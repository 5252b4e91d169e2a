"""A job as the marketplace sends it.

    {"external_id": "job-1", "client": "client-1", "property": "property-1",
     "title": "Deep clean", "description": "", "service_type": "deep",
     "scheduled_start": "2026-12-03T09:00:00Z", "duration_hours": 3.5, "budget": 180,
     "status": "open_for_bids", "assigned_cleaner": null, "cancelled_by_cleaner": false}

Required: client, property (one of that client's), service_type (SERVICE_TYPES),
scheduled_start (with its time zone), duration_hours (over 0, at most 24), budget. `status`
defaults to draft and follows the life cycle of lifecycle.py; assigned, in_progress and
completed jobs have an `assigned_cleaner`, draft and open ones none. `scheduled_end` is derived.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from app.marketplace.ingest.entity import Entity, Known, Pending, Stored, refuse
from app.marketplace.ingest.fields import Boolean, Choice, DateTime, PositiveDecimal, Ref, Text
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.lifecycle import NEEDS_CLEANER, NO_CLEANER, job_transition_refusal
from app.marketplace.ingest.outcomes import ErrorKind, FieldError
from app.marketplace.ingest.sql import OneOf, rows_upsert
from app.marketplace.models import SERVICE_TYPES, CleaningJob

S = CleaningJob.Status
PLAIN = (
    "title",
    "description",
    "service_type",
    "scheduled_start",
    "duration_hours",
    "budget",
    "status",
)
READ = ("client__external_id", "property__external_id", *PLAIN, "assigned_cleaner__external_id", "cancelled_by_cleaner")
WRITTEN = (
    "client_id",
    "property_id",
    *PLAIN,
    "scheduled_end",
    "assigned_cleaner_id",
    "cancelled_by_cleaner",
)


class Jobs(Entity):
    type = "job"
    model = CleaningJob
    fields = {
        "client": Ref("client"),
        "property": Ref("property"),
        "title": Text(200),
        "description": Text(10_000),
        "service_type": Choice(SERVICE_TYPES),
        "scheduled_start": DateTime(),
        "duration_hours": PositiveDecimal(Decimal(24)),
        "budget": PositiveDecimal(Decimal("99999999.99")),
        "status": Choice(S.values, default=S.DRAFT.value),
        "assigned_cleaner": Ref("cleaner", nullable=True),
        "cancelled_by_cleaner": Boolean(default=False),
    }
    names = ("client", "property", *PLAIN, "assigned_cleaner", "cancelled_by_cleaner")

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        for pk, external_id, *columns in queryset.values_list("pk", "external_id", *READ):
            yield external_id, Stored(pk, dict(zip(self.names, columns, strict=True)))

    def check(self, values: dict[str, Any]) -> list[FieldError]:
        status, cleaner = values["status"], values["assigned_cleaner"]
        if status in NEEDS_CLEANER and cleaner is None:
            return [FieldError("assigned_cleaner", f"required when status is {status}")]
        if status in NO_CLEANER and cleaner is not None:
            return [FieldError("assigned_cleaner", f"must be null while status is {status}")]
        if values["cancelled_by_cleaner"] and (status != S.CANCELLED or cleaner is None):
            return [FieldError("cancelled_by_cleaner", "true only for a cancelled job with an assigned cleaner")]
        return []

    def check_stored(self, pending: Pending) -> None:
        prop, client = pending.refs["property"], pending.refs["client"]
        if prop.client != client.pk:
            message = f"{pending.values['property']!r} belongs to another client than {pending.values['client']!r}"
            raise refuse(ErrorKind.INVALID, "property", message)
        if pending.stored is not None:
            refusal = job_transition_refusal(pending.stored.values["status"], pending.values["status"])
            if refusal:
                raise refuse(ErrorKind.CONFLICT, "status", refusal)

    def lookup(self, external_ids: list[str]) -> dict[str, Known]:
        rows = CleaningJob.objects.filter(OneOf("external_id", external_ids)).values_list(
            "external_id", "pk", "client_id", "assigned_cleaner_id"
        )
        return {eid: Known(pk, client=client, cleaner=cleaner) for eid, pk, client, cleaner in rows}

    def known(self, pending: Pending) -> Known:
        cleaner = pending.refs["assigned_cleaner"]
        return Known(pending.pk, client=pending.refs["client"].pk, cleaner=cleaner.pk if cleaner else None)

    def write(self, pending: list[Pending], changes: Changes) -> None:
        rows = []
        for p in pending:
            v, refs = p.values, p.refs
            cleaner = refs["assigned_cleaner"]
            # Exact: a duration has at most two decimals, so it is a whole number of seconds.
            end = v["scheduled_start"] + timedelta(seconds=int(v["duration_hours"] * 3600))
            rows.append(
                (
                    p.external_id,
                    refs["client"].pk,
                    refs["property"].pk,
                    *(v[name] for name in PLAIN),
                    end,
                    cleaner.pk if cleaner else None,
                    v["cancelled_by_cleaner"],
                )
            )
        now = timezone.now()
        same = {"created_at": now, "updated_at": now}
        ids = rows_upsert(
            CleaningJob, ("external_id", *WRITTEN), rows, key="external_id", update=(*WRITTEN, "updated_at"), same=same
        )
        for p in pending:
            p.pk = ids[p.external_id]
            changes.job(p.pk)
            if p.refs["assigned_cleaner"] is not None:  # (a cleaner it was taken from: at the daily refresh)
                changes.scores.add(p.refs["assigned_cleaner"].pk)
