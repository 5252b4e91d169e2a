"""Every class of bad input is refused, naming the field, with a readable reason (no database needed)."""

from __future__ import annotations

import math

import pytest

from app.marketplace.ingest.apply import ENTITIES
from app.marketplace.ingest.entity import Refusal
from app.marketplace.ingest.outcomes import ErrorKind
from tests.app.marketplace.ingest import builders as b

BASE = {
    "cleaner": b.cleaner(),
    "client": b.client(),
    "property": b.property_(),
    "job": b.job(),
    "bid": b.bid(),
    "review": b.review(),
}


def refusal(item_type: str, **fields) -> Refusal:
    item = BASE[item_type]
    bad = type(item)(item.type, item.external_id, {**item.data, **fields})
    with pytest.raises(Refusal) as caught:
        ENTITIES[item_type].validate(bad, None)
    return caught.value


@pytest.mark.parametrize(
    ("item_type", "field", "value", "reason"),
    [
        # wrong types: no strings for numbers, no booleans for numbers, no numbers for strings
        ("cleaner", "years_experience", "5", "expected an integer, got a string"),
        ("cleaner", "years_experience", True, "expected an integer, got a boolean"),
        ("cleaner", "years_experience", 2.5, "expected an integer, got a number"),
        ("cleaner", "home_lat", "40.7", "expected a number, got a string"),
        ("cleaner", "home_lat", False, "expected a number, got a boolean"),
        ("cleaner", "hourly_rate", True, "expected a number, got a boolean"),
        ("cleaner", "hourly_rate", "35 dollars", "expected a number, got '35 dollars'"),
        ("cleaner", "verified", "yes", "expected true or false, got a string"),
        ("cleaner", "verified", 1, "expected true or false, got an integer"),
        ("cleaner", "services", "standard", "expected a list of names"),
        ("cleaner", "services", ["standard", "laundry"], "'laundry' is not one of standard, deep"),
        ("cleaner", "available_days", ["monday"], "'monday' is not one of mon, tue"),
        ("client", "phone", 5551234, "expected a string, got an integer"),
        ("client", "blocked_cleaners", "c-1", "expected a list of cleaner external ids"),
        ("client", "blocked_cleaners", ["c 1"], "is not an external id"),
        ("job", "client", 17, "expected an external id (a string), got an integer (client)"),
        ("job", "status", "done", "'done' is not one of draft, open_for_bids"),
        ("job", "service_type", None, "expected one of standard, deep"),
        ("review", "on_time", None, "expected true or false, got null"),
        ("bid", "job", None, "expected an external id (a string), got null (job)"),
        # NaN and infinities, however they arrive (json.loads reads NaN and Infinity)
        ("cleaner", "home_lat", math.nan, "must be a finite number, got nan"),
        ("cleaner", "service_radius_km", math.inf, "must be a finite number, got inf"),
        ("job", "budget", math.nan, "must be a finite number"),
        ("bid", "amount", -math.inf, "must be a finite number"),
        # out of range
        ("cleaner", "home_lat", 90.5, "must be at least -90 and at most 90, got 90.5"),
        ("cleaner", "home_lng", -180.01, "must be at least -180 and at most 180"),
        ("property", "lat", -91, "must be at least -90 and at most 90"),
        ("property", "lng", 181, "must be at least -180 and at most 180"),
        ("cleaner", "hourly_rate", 0, "must be greater than 0"),
        ("cleaner", "hourly_rate", -5, "must be greater than 0"),
        ("cleaner", "hourly_rate", 10**7, "at most 999999.99"),
        ("cleaner", "hourly_rate", 35.555, "at most 2 decimal places, got 35.555"),
        ("job", "budget", 0, "must be greater than 0"),
        ("bid", "amount", "-3", "expected a number, got '-3'"),
        ("review", "rating", 0, "must be between 1 and 10, got 0"),
        ("review", "rating", 11, "must be between 1 and 10, got 11"),
        ("cleaner", "day_start_hour", -1, "must be between 0 and 23"),
        ("cleaner", "day_end_hour", 25, "must be between 1 and 24"),
        ("cleaner", "service_radius_km", -1, "must be at least 0"),
        ("job", "duration_hours", 0, "must be greater than 0 and at most 24"),
        ("job", "duration_hours", 24.5, "must be greater than 0 and at most 24"),
        ("job", "duration_hours", -2, "must be greater than 0"),
        ("property", "size_sqft", 0, "must be between 1 and 10000000"),
        # dates: ISO 8601 with a time zone
        ("job", "scheduled_start", "2030-01-07T10:00:00", "has no time zone"),
        ("job", "scheduled_start", "2030-01-07", "has no time zone"),
        ("job", "scheduled_start", "next tuesday", "is not an ISO 8601 date and time"),
        ("job", "scheduled_start", 1893924000, "expected an ISO 8601 date and time, got an integer"),
        # strings: bounded, no NUL
        ("job", "title", "x" * 201, "at most 200 characters, got 201"),
        ("property", "address", "x" * 256, "at most 255 characters"),
        ("client", "phone", "5" * 33, "at most 32 characters"),
        ("job", "description", "x" * 10_001, "at most 10000 characters"),
        ("cleaner", "name", "x" * 151, "at most 150 characters"),
        ("cleaner", "email", "not-an-address", "is not an email address"),
        ("bid", "message", "a\x00b", "must not contain NUL characters"),
    ],
)
def test_it_refuses_bad_values_naming_the_field(item_type, field, value, reason) -> None:
    caught = refusal(item_type, **{field: value})

    assert caught.kind == ErrorKind.INVALID
    assert [e.field for e in caught.errors] == [field]
    assert reason in caught.errors[0].message


def test_it_refuses_unknown_fields_and_lists_the_known_ones() -> None:
    caught = refusal("cleaner", hourly_rte=35)

    assert [e.field for e in caught.errors] == ["hourly_rte"]
    assert "unknown field (a cleaner has: external_id, name, email, home_lat" in caught.errors[0].message


def test_it_names_every_missing_required_field() -> None:
    with pytest.raises(Refusal) as caught:
        ENTITIES["job"].validate(type(BASE["job"])("job", "j-1", {}), None)

    fields = [e.field for e in caught.value.errors]
    assert fields == ["client", "property", "service_type", "scheduled_start", "duration_hours", "budget"]
    assert {e.message for e in caught.value.errors} == {"required"}


def test_it_reports_every_bad_field_of_an_item_at_once() -> None:
    caught = refusal("cleaner", home_lat=100, hourly_rate="free", verified="no")

    assert [e.field for e in caught.errors] == ["home_lat", "hourly_rate", "verified"]


def test_it_refuses_an_external_id_in_the_data_that_differs() -> None:
    caught = refusal("bid", external_id="b-2")

    assert caught.errors[0].field == "external_id"
    assert "differs from the item's 'b-1'" in caught.errors[0].message


def test_it_refuses_data_that_is_not_an_object() -> None:
    with pytest.raises(Refusal) as caught:
        ENTITIES["bid"].validate(type(BASE["bid"])("bid", "b-1", ["job", "j-1"]), None)

    assert caught.value.errors[0].message == "expected an object of bid fields"


@pytest.mark.parametrize(
    ("item_type", "fields", "field", "reason"),
    [
        ("cleaner", {"day_start_hour": 18, "day_end_hour": 9}, "day_end_hour", "must be after day_start_hour (18)"),
        ("cleaner", {"day_start_hour": 9, "day_end_hour": 9}, "day_end_hour", "must be after day_start_hour (9)"),
        ("job", {"status": "assigned"}, "assigned_cleaner", "required when status is assigned"),
        ("job", {"status": "completed"}, "assigned_cleaner", "required when status is completed"),
        ("job", {"status": "open_for_bids", "assigned_cleaner": "c-1"}, "assigned_cleaner", "must be null"),
        ("job", {"status": "cancelled", "cancelled_by_cleaner": True}, "cancelled_by_cleaner", "true only for"),
    ],
)
def test_it_checks_rules_across_fields(item_type, fields, field, reason) -> None:
    caught = refusal(item_type, **fields)

    assert [e.field for e in caught.errors] == [field]
    assert reason in caught.errors[0].message


def test_it_keeps_canonical_values() -> None:
    item = b.cleaner(
        name="  Ana   Maria  Lima ",
        services=["deep", "standard", "deep"],
        hourly_rate="35.5",
        home_lat=40,
        years_experience=5.0,  # an integer written as a JSON number with a fraction of zero
    )
    values = ENTITIES["cleaner"].validate(item, None)

    assert values["name"] == "Ana Maria Lima"
    assert ENTITIES["cleaner"].fields["services"].dump(values["services"]) == ["standard", "deep"]
    assert str(values["hourly_rate"]) == "35.50"
    assert values["home_lat"] == 40.0 and isinstance(values["home_lat"], float)
    assert values["years_experience"] == 5


def test_it_keeps_times_in_utc() -> None:
    values = ENTITIES["job"].validate(b.job(scheduled_start="2030-01-07T12:00:00+02:00"), None)

    assert ENTITIES["job"].fields["scheduled_start"].dump(values["scheduled_start"]) == "2030-01-07T10:00:00Z"


def test_a_full_upsert_fills_the_defaults() -> None:
    values = ENTITIES["bid"].validate(type(BASE["bid"])("bid", "b-1", {"job": "j", "cleaner": "c", "amount": 5}), None)

    assert values["status"] == "pending" and values["message"] == ""


def test_a_number_refuses_an_integer_beyond_any_float() -> None:
    from app.marketplace.ingest.fields import Invalid, Number

    with pytest.raises(Invalid, match="at most 90"):
        Number(-90, 90).check(10**400)
