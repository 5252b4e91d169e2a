"""A client as the marketplace sends it.

    {"external_id": "client-1", "name": "Bo Chen", "email": "bo@example.com",
     "phone": "+1 212 555 0100", "blocked_cleaners": ["cleaner-7"]}

Nothing is required. `blocked_cleaners` names cleaners this client never wants recommended;
an upsert replaces the whole list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from app.marketplace.ingest.entity import Pending, Stored
from app.marketplace.ingest.fields import RefList, Text
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.people import PERSON_FIELDS, USER_COLUMNS, PersonEntity, person_values
from app.marketplace.ingest.sql import OneOf, rows_upsert
from app.marketplace.models import ClientProfile

Blocks = ClientProfile.blocked_cleaners.through


class Clients(PersonEntity):
    type = "client"
    role = "client"
    model = ClientProfile
    fields = {**PERSON_FIELDS, "phone": Text(32), "blocked_cleaners": RefList("cleaner")}

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        rows = list(queryset.values_list("pk", "external_id", *USER_COLUMNS, "phone"))
        blocked: dict[int, list[str]] = {}
        for client, cleaner in Blocks.objects.filter(OneOf("clientprofile_id", [r[0] for r in rows])).values_list(
            "clientprofile_id", "cleanerprofile__external_id"
        ):
            blocked.setdefault(client, []).append(cleaner)
        for pk, external_id, user_id, username, first, last, email, phone in rows:
            values: dict[str, Any] = person_values(first, last, email)
            values["phone"] = phone
            values["blocked_cleaners"] = tuple(sorted(blocked.get(pk, ())))
            yield external_id, Stored(pk, values, (user_id, username))

    def write(self, pending: list[Pending], changes: Changes) -> None:
        user_of = self.users_write(pending, changes)
        rows = [(p.external_id, user_of[p.index], p.values["phone"]) for p in pending]
        ids = rows_upsert(
            ClientProfile,
            ("external_id", "user_id", "phone"),
            rows,
            key="external_id",
            update=("phone",),
            same={"created_at": timezone.now()},
        )
        reblocked = []
        for p in pending:
            p.pk = ids[p.external_id]
            if p.stored is not None:
                changes.clients.add(p.pk)
            stored = p.stored.values["blocked_cleaners"] if p.stored is not None else ()
            if p.values["blocked_cleaners"] != stored:
                reblocked.append(p)
        # Replace the lists that changed: one delete and one insert for all of them.
        Blocks.objects.filter(clientprofile_id__in=[p.pk for p in reblocked if p.stored is not None]).delete()
        Blocks.objects.bulk_create(
            [
                Blocks(clientprofile_id=p.pk, cleanerprofile_id=cleaner.pk)
                for p in reblocked
                for cleaner in p.refs["blocked_cleaners"]
            ]
        )
