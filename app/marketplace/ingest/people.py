"""Cleaners and clients are people: each profile has its own user, which ingestion creates and keeps.

A new profile gets a user with the profile's role, an unusable password (the marketplace's own
users never log in here with a password; a token is issued separately) and the username
`<role>.<external id>` (unique, since an external id is unique per type). The external `name`
is the user's first and last name (split at the first space), `email` the user's email.
Deleting a cleaner or a client deletes their personal data (forget.py) and their user, and so
their profile and token; the history others need stays without them.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.utils import timezone

from app.accounts.models import User
from app.marketplace.ingest.entity import Entity, Pending, Refusal, refuse
from app.marketplace.ingest.fields import Email, Name
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.outcomes import ErrorKind
from app.marketplace.ingest.sql import OneOf, rows_upsert

PERSON_FIELDS = {"name": Name(150), "email": Email()}
USER_COLUMNS = ("user_id", "user__username", "user__first_name", "user__last_name", "user__email")


def username_for(role: str, external_id: str) -> str:
    return f"{role}.{external_id}"


def person_values(first: str, last: str, email: str) -> dict[str, Any]:
    return {"name": " ".join(f"{first} {last}".split()), "email": email}


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


class PersonEntity(Entity):
    """An entity with a user of `role`: `Stored.extra` is the user's (id, username)."""

    role: str

    def delete(self, pks: list[int]) -> None:
        """Delete the people's personal data (forget.py), then their users: profiles, tokens, … cascade."""
        from app.marketplace.ingest import forget  # the recommendation tables: only a delete needs them

        (forget.cleaners_forget if self.role == "cleaner" else forget.clients_forget)(pks)
        users = list(self.model.objects.filter(pk__in=pks).values_list("user_id", flat=True))
        User.objects.filter(pk__in=users).delete()

    def conflicts(self, pending: list[Pending]) -> dict[int, Refusal]:
        """New profiles whose username another user has already."""
        out = super().conflicts(pending)
        wanted = {username_for(self.role, p.external_id): p for p in pending if p.stored is None}
        taken = User.objects.filter(OneOf("username", wanted)).values_list("username", flat=True)
        for name in taken:
            out[wanted[name].index] = refuse(
                ErrorKind.CONFLICT, "external_id", f"the username {name!r} belongs to another user already"
            )
        return out

    def users_write(self, pending: list[Pending], changes: Changes) -> dict[int, int]:
        """Create the users of new profiles, update those whose name or email changed; {index: user id}."""
        user_of, rows = {}, []
        for p in pending:
            if p.stored is None:
                username = username_for(self.role, p.external_id)
            else:
                user_id, username = p.stored.extra
                user_of[p.index] = user_id
                stored = p.stored.values
                if p.values["name"] == stored["name"] and p.values["email"] == stored["email"]:
                    continue
                changes.users.add(user_id)
            first, last = _split(p.values["name"])
            password = UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)
            rows.append((username, password, first, last, p.values["email"]))
        same = {"role": self.role, "is_active": True, "is_staff": False, "is_superuser": False}
        ids = rows_upsert(
            User,
            ("username", "password", "first_name", "last_name", "email"),
            rows,
            key="username",
            update=("first_name", "last_name", "email"),
            same={**same, "date_joined": timezone.now()},
        )
        for p in pending:
            if p.stored is None:
                user_of[p.index] = ids[username_for(self.role, p.external_id)]
        return user_of
