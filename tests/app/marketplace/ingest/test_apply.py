"""ingest_apply: every entity type created, updated, unchanged and deleted; references, order, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from app.accounts.models import User
from app.marketplace.ingest import ErrorKind, Item, entity_get, ingest_apply
from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile, Property, Review
from tests.app.marketplace.ingest import builders as b

pytestmark = pytest.mark.django_db

MODELS = {
    "cleaner": CleanerProfile,
    "client": ClientProfile,
    "property": Property,
    "job": CleaningJob,
    "bid": Bid,
    "review": Review,
}


def test_it_creates_every_type_and_returns_the_internal_ids() -> None:
    outcomes = b.apply(*b.world())

    assert b.statuses(outcomes) == ["created"] * 6
    for outcome in outcomes:
        row = MODELS[outcome.type].objects.get(external_id=outcome.external_id)
        assert outcome.id == row.pk and outcome.ok and outcome.kind is None


def test_it_stores_what_it_was_given() -> None:
    b.apply(*b.world())

    cleaner = CleanerProfile.objects.select_related("user").get(external_id="c-1")
    assert (cleaner.home_lat, cleaner.home_lng, cleaner.hourly_rate) == (40.72, -74.0, Decimal("35.00"))
    assert cleaner.services == ["standard", "deep"] and cleaner.specialties == ["deep"]
    assert cleaner.available_days_mask == 0b1111111 and (cleaner.day_start_hour, cleaner.day_end_hour) == (7, 20)
    job = CleaningJob.objects.get(external_id="j-1")
    assert job.client.external_id == "cl-1" and job.property.external_id == "p-1"
    assert job.assigned_cleaner_id == cleaner.pk and job.status == "completed"
    assert job.scheduled_start == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert job.scheduled_end == job.scheduled_start + timedelta(hours=3)
    review = Review.objects.get(external_id="r-1")
    assert (review.job_id, review.cleaner_id, review.client_id) == (job.pk, cleaner.pk, job.client_id)
    bid = Bid.objects.get(external_id="b-1")
    assert (bid.job_id, bid.cleaner_id, bid.amount, bid.status) == (job.pk, cleaner.pk, Decimal("120.00"), "accepted")


def test_a_cleaner_or_client_gets_a_user_of_their_own() -> None:
    b.apply(b.cleaner(name="Ana Maria Lima"), b.client())

    cleaner = CleanerProfile.objects.select_related("user").get(external_id="c-1").user
    assert (cleaner.username, cleaner.role, cleaner.first_name, cleaner.last_name) == (
        "cleaner.c-1",
        "cleaner",
        "Ana",
        "Maria Lima",
    )
    assert cleaner.email == "ana@example.com" and not cleaner.has_usable_password()
    client = ClientProfile.objects.select_related("user").get(external_id="cl-1").user
    assert (client.username, client.role) == ("client.cl-1", "client") and not client.has_usable_password()


def test_the_same_input_again_changes_nothing() -> None:
    b.apply(*b.world())
    with CaptureQueriesContext(connection) as queries:
        outcomes = b.apply(*b.world())

    assert b.statuses(outcomes) == ["unchanged"] * 6
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


@pytest.mark.parametrize(
    ("item", "column", "expected"),
    [
        (b.cleaner(hourly_rate=40), "hourly_rate", Decimal("40.00")),
        (b.client(phone="556"), "phone", "556"),
        (b.property_(size_sqft=1200), "size_sqft", 1200),
        (
            b.job(status="completed", assigned_cleaner="c-1", scheduled_start="2026-01-05T10:00:00Z", budget=99),
            "budget",
            99,
        ),
        (b.bid(status="accepted", amount=130), "amount", 130),
        (b.review(rating=3), "rating", 3),
    ],
)
def test_it_updates_every_type(item: Item, column: str, expected) -> None:
    b.apply(*b.world())

    (outcome,) = b.apply(item)

    assert str(outcome.status) == "updated"
    assert getattr(MODELS[item.type].objects.get(external_id=item.external_id), column) == expected


def test_an_update_of_a_name_or_email_updates_the_user() -> None:
    b.apply(b.cleaner())
    user_id = CleanerProfile.objects.get().user_id

    assert str(b.one(b.cleaner(name="Ana Souza", email="ana@souza.example")).status) == "updated"

    user = User.objects.get(pk=user_id)
    assert (user.first_name, user.last_name, user.email, user.username) == (
        "Ana",
        "Souza",
        "ana@souza.example",
        "cleaner.c-1",
    )
    assert User.objects.count() == 1


def test_a_full_upsert_replaces_and_fields_left_out_take_their_defaults() -> None:
    b.apply(b.cleaner(verified=True, years_experience=9))

    item = b.cleaner()
    del item.data["verified"], item.data["years_experience"]
    b.one(item)

    cleaner = CleanerProfile.objects.get()
    assert (cleaner.verified, cleaner.years_experience) == (False, 0)


def test_a_partial_update_changes_only_the_fields_given() -> None:
    b.apply(*b.world()[:3], b.job())

    outcome = b.one(b.patch("job", "j-1", status="assigned", assigned_cleaner="c-1"))

    assert str(outcome.status) == "updated"
    job = CleaningJob.objects.get()
    assert (job.status, job.assigned_cleaner.external_id, job.budget, job.title) == (
        "assigned",
        "c-1",
        Decimal("150.00"),
        "Clean my place",
    )
    assert str(b.one(b.patch("job", "j-1", status="assigned")).status) == "unchanged"


def test_a_partial_update_is_checked_on_the_merged_values() -> None:
    b.apply(b.cleaner(day_start_hour=8, day_end_hour=12))

    outcome = b.one(b.patch("cleaner", "c-1", day_start_hour=13))

    assert outcome.kind == ErrorKind.INVALID and outcome.message == "day_end_hour: must be after day_start_hour (13)"


def test_a_partial_update_of_something_we_do_not_have_is_not_found() -> None:
    outcome = b.one(b.patch("cleaner", "nobody", hourly_rate=30))

    assert outcome.kind == ErrorKind.NOT_FOUND and outcome.kind.http_status == 404
    assert outcome.message == "no cleaner 'nobody' to update"
    assert not CleanerProfile.objects.exists()


@pytest.mark.parametrize("item_type", ["review", "bid", "job", "property", "client", "cleaner"])
def test_it_deletes_every_type(item_type: str) -> None:
    b.apply(*b.world())
    external_id = MODELS[item_type].objects.get().external_id
    pk = MODELS[item_type].objects.get().pk

    (outcome,) = b.apply(b.delete(item_type, external_id))

    assert (str(outcome.status), outcome.id) == ("deleted", pk)
    assert not MODELS[item_type].objects.filter(pk=pk).exists()


def test_deleting_a_person_deletes_their_user() -> None:
    b.apply(b.cleaner(), b.client())

    b.apply(b.delete("cleaner", "c-1"), b.delete("client", "cl-1"))

    assert not User.objects.exists()


def test_deleting_what_we_do_not_have_is_not_found() -> None:
    outcome = b.one(b.delete("job", "j-404"))

    assert outcome.kind == ErrorKind.NOT_FOUND and outcome.message == "no job 'j-404'"


def test_it_applies_a_call_in_dependency_order_whatever_the_input_order() -> None:
    items = list(reversed(b.world()))

    outcomes = b.apply(*items)

    assert b.statuses(outcomes) == ["created"] * 6
    assert [o.type for o in outcomes] == ["review", "bid", "job", "property", "client", "cleaner"]


def test_deletes_come_after_upserts_in_reverse_order() -> None:
    b.apply(*b.world())

    outcomes = b.apply(b.delete("cleaner", "c-1"), b.delete("review", "r-1"), b.cleaner("c-2"))

    assert b.statuses(outcomes) == ["deleted", "deleted", "created"]
    assert list(CleanerProfile.objects.values_list("external_id", flat=True)) == ["c-2"]


def test_an_unknown_reference_refuses_that_item_only() -> None:
    outcomes = b.apply(b.client(), b.property_(), b.job(property="p-404"), b.job("j-2"))

    assert b.statuses(outcomes) == ["created", "created", "error", "created"]
    assert outcomes[2].kind == ErrorKind.UNKNOWN_REFERENCE and outcomes[2].kind.http_status == 422
    assert outcomes[2].message == "property: no property 'p-404'"
    assert not CleaningJob.objects.filter(external_id="j-1").exists()


def test_every_unknown_reference_of_an_item_is_named() -> None:
    outcome = b.one(b.client(blocked_cleaners=["c-8", "c-9"]))

    assert outcome.message == "blocked_cleaners: no cleaner 'c-8', 'c-9'"
    outcome = b.one(b.bid(job="j-8", cleaner="c-9"))
    assert outcome.message == "job: no job 'j-8'; cleaner: no cleaner 'c-9'"
    assert not ClientProfile.objects.exists() and not Bid.objects.exists()


def test_a_reference_to_an_item_refused_in_the_same_call_is_unknown() -> None:
    outcomes = b.apply(b.cleaner(hourly_rate=0), b.client(blocked_cleaners=["c-1"]))

    assert b.statuses(outcomes) == ["error", "error"]
    assert outcomes[1].kind == ErrorKind.UNKNOWN_REFERENCE


def test_the_same_external_id_twice_in_one_call_refuses_the_later_items() -> None:
    outcomes = b.apply(b.cleaner(hourly_rate=30), b.cleaner(hourly_rate=40), b.client("c-1"), b.cleaner(hourly_rate=50))

    assert b.statuses(outcomes) == ["created", "error", "created", "error"]
    assert (
        outcomes[1].kind == ErrorKind.DUPLICATE
        and outcomes[1].message == "external_id: the same cleaner is item 0 already"
    )
    assert CleanerProfile.objects.get().hourly_rate == 30


def test_malformed_items_are_refused_by_field() -> None:
    outcomes = b.apply(
        Item("cleaning", "x-1", {}), Item("job", "has space", {}), Item("job", None, {}), Item("bid", "b-1", op="merge")
    )

    assert [(o.kind, o.errors[0].field) for o in outcomes] == [
        (ErrorKind.INVALID, "type"),
        (ErrorKind.INVALID, "external_id"),
        (ErrorKind.INVALID, "external_id"),
        (ErrorKind.INVALID, "op"),
    ]
    assert "'has space' is not an external id" in outcomes[1].message


def test_a_job_on_another_clients_property_is_refused() -> None:
    b.apply(b.client(), b.client("cl-2"), b.property_())

    outcome = b.one(b.job(client="cl-2"))

    assert (
        outcome.kind == ErrorKind.INVALID and outcome.message == "property: 'p-1' belongs to another client than 'cl-2'"
    )


@pytest.mark.parametrize(
    ("before", "after", "refusal"),
    [
        ("completed", "open_for_bids", "a completed job cannot become open_for_bids"),
        ("cancelled", "assigned", "a cancelled job cannot become assigned"),
        ("in_progress", "assigned", "a job that is in_progress cannot go back to assigned"),
        ("open_for_bids", "draft", "a job that is open_for_bids cannot go back to draft"),
    ],
)
def test_a_transition_the_life_cycle_refuses_is_a_conflict(before: str, after: str, refusal: str) -> None:
    b.apply(*b.world()[:3], b.job(**_status(before)))

    outcome = b.one(b.job(**_status(after)))

    assert outcome.kind == ErrorKind.CONFLICT and outcome.kind.http_status == 409
    assert outcome.message == f"status: {refusal}"
    assert CleaningJob.objects.get().status == before


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("draft", "open_for_bids"),
        ("open_for_bids", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "completed"),
        ("open_for_bids", "completed"),  # a sync that missed the steps between
        ("assigned", "open_for_bids"),  # the assignment fell through
        ("assigned", "cancelled"),
        ("draft", "cancelled"),
    ],
)
def test_the_life_cycle_allows_forward_moves_and_cancelling(before: str, after: str) -> None:
    b.apply(*b.world()[:3], b.job(**_status(before)))

    outcome = b.one(b.job(**_status(after)))

    assert str(outcome.status) == "updated" and CleaningJob.objects.get().status == after


def _status(status: str) -> dict:
    cleaner = "c-1" if status in ("assigned", "in_progress", "completed") else None
    return {"status": status, "assigned_cleaner": cleaner}


def test_a_second_bid_of_a_cleaner_on_a_job_is_a_conflict() -> None:
    b.apply(*b.world())

    outcomes = b.apply(b.bid("b-2"), b.cleaner("c-2"), b.bid("b-3", cleaner="c-2"), b.bid("b-4", cleaner="c-2"))

    assert b.statuses(outcomes) == ["error", "created", "created", "error"]
    assert (
        outcomes[0].kind == ErrorKind.CONFLICT
        and outcomes[0].message == "cleaner: 'c-1' has a bid on 'j-1' already: 'b-1'"
    )
    assert outcomes[3].message == "cleaner: 'c-2' has a bid on 'j-1' already: 'b-3'"


def test_a_second_review_of_a_job_is_a_conflict() -> None:
    b.apply(*b.world())

    outcome = b.one(b.review("r-2"))

    assert outcome.kind == ErrorKind.CONFLICT and outcome.message == "job: 'j-1' has a review already: 'r-1'"


def test_a_username_taken_by_someone_else_is_a_conflict() -> None:
    User.objects.create(username="cleaner.c-1")

    outcome = b.one(b.cleaner())

    assert (
        outcome.kind == ErrorKind.CONFLICT and "the username 'cleaner.c-1' belongs to another user" in outcome.message
    )
    assert not CleanerProfile.objects.exists()


def test_a_clients_blocked_cleaners_are_replaced() -> None:
    b.apply(b.cleaner("c-1"), b.cleaner("c-2"), b.cleaner("c-3"), b.client(blocked_cleaners=["c-1", "c-2"]))

    assert str(b.one(b.client(blocked_cleaners=["c-3", "c-2"])).status) == "updated"

    blocked = ClientProfile.objects.get().blocked_cleaners.values_list("external_id", flat=True)
    assert sorted(blocked) == ["c-2", "c-3"]
    assert str(b.one(b.client(blocked_cleaners=["c-2", "c-3", "c-2"])).status) == "unchanged"


def test_a_dry_run_reports_the_outcomes_and_writes_nothing() -> None:
    b.apply(b.cleaner())

    outcomes = b.apply(*b.world(), b.cleaner("c-2", hourly_rate=0), dry_run=True)

    assert b.statuses(outcomes) == ["unchanged", "created", "created", "created", "created", "created", "error"]
    assert [o.id for o in outcomes[1:6]] == [None] * 5
    assert CleanerProfile.objects.count() == 1 and not ClientProfile.objects.exists() and not Bid.objects.exists()


def test_it_reads_existing_rows_in_one_query_per_type_and_reference(django_assert_max_num_queries) -> None:
    b.apply(*b.world()[:3])
    jobs = [b.job(f"j-{i}") for i in range(50)]

    with django_assert_max_num_queries(8):  # savepoint, stored jobs, clients, properties, the write, release
        outcomes = ingest_apply(jobs)

    assert b.statuses(outcomes) == ["created"] * 50


def test_entity_get_gives_the_representation_back() -> None:
    b.apply(*b.world())

    assert entity_get("job", "j-1") == {
        "external_id": "j-1",
        "client": "cl-1",
        "property": "p-1",
        "title": "Clean my place",
        "description": "",
        "service_type": "standard",
        "scheduled_start": "2026-01-05T10:00:00Z",
        "duration_hours": 3,
        "budget": 150,
        "status": "completed",
        "assigned_cleaner": "c-1",
        "cancelled_by_cleaner": False,
    }
    assert entity_get("cleaner", "c-1")["services"] == ["standard", "deep"]
    assert entity_get("review", "nope") is None
    for item in b.world():
        assert (
            str(b.one(Item(item.type, item.external_id, entity_get(item.type, item.external_id))).status) == "unchanged"
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two writers at once: SQLite takes one at a time")
def test_a_bid_a_concurrent_call_committed_first_is_a_conflict_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from app.marketplace.ingest.apply import ENTITIES

    b.apply(*b.world()[:4])  # cleaner, client, property, job: no bid yet
    bids = ENTITIES["bid"]
    write, raced = bids.write, []

    def write_after_another_call_took_the_pair(*args, **kwargs):
        if not raced:  # both calls found the (job, cleaner) pair free; the other commits first
            raced.append(True)
            other = threading.Thread(target=lambda: (b.apply(b.bid("b-other")), connection.close()))
            other.start()
            other.join()
        return write(*args, **kwargs)

    monkeypatch.setattr(bids, "write", write_after_another_call_took_the_pair)

    outcome = b.one(b.bid("b-1"))

    assert raced and outcome.kind == ErrorKind.CONFLICT, outcome
    assert outcome.message == "cleaner: 'c-1' has a bid on 'j-1' already: 'b-other'"
    assert list(Bid.objects.values_list("external_id", flat=True)) == ["b-other"]
