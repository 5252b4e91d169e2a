"""The synthetic marketplace: determinism, ratios, consistency and the hidden structure."""

from datetime import UTC, datetime
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import AutoField, Count, ForeignKey, Max, Q
from rest_framework.authtoken.models import Token

from app.accounts.models import User
from app.marketplace.models import SERVICE_BIT, Bid, CleanerProfile, CleaningJob, ClientProfile, Property, Review
from app.synthetic.generator import DEFAULT_REFERENCE_DATE
from app.synthetic.management.commands.reset_sequences import project_models
from app.synthetic.models import ExpectedRating

pytestmark = pytest.mark.django_db

BLOCKS = ClientProfile.blocked_cleaners.through
DUMPED_MODELS = (User, Token, CleanerProfile, ClientProfile, BLOCKS, Property, CleaningJob, Bid, Review, ExpectedRating)
# Set by the database at insert time, so they differ between runs by design.
AUTO_TIMESTAMPS = {"created_at", "updated_at", "created"}


def dump() -> dict[str, list[tuple]]:
    """Every generated row's content, with ids replaced by positions so that two runs compare."""
    position = {
        model: {pk: i for i, pk in enumerate(model.objects.order_by("pk").values_list("pk", flat=True))}
        for model in DUMPED_MODELS
    }
    rows = {}
    for model in DUMPED_MODELS:
        fields = [
            f
            for f in model._meta.concrete_fields
            if f.name not in AUTO_TIMESTAMPS and not (f.primary_key and isinstance(f, AutoField))
        ]
        rows[model.__name__] = [
            tuple(
                position[f.related_model].get(value) if isinstance(f, ForeignKey) else value
                for f, value in zip(fields, values, strict=True)
            )
            for values in model.objects.order_by("pk").values_list(*(f.attname for f in fields))
        ]
    return rows


def test_it_gives_identical_rows_for_the_same_seed(generate):
    generate("--seed", "7")
    first = dump()
    generate("--seed", "7", "--clear")
    assert dump() == first


def test_it_gives_different_rows_for_another_seed(generate):
    generate("--seed", "7")
    first = dump()
    generate("--seed", "8", "--clear")
    second = dump()
    assert second["CleanerProfile"] != first["CleanerProfile"]
    assert second["CleaningJob"] != first["CleaningJob"]
    assert second["Token"] != first["Token"]


def test_it_refuses_to_run_twice_without_clear(generate):
    generate()
    with pytest.raises(CommandError, match="--clear"):
        generate()
    assert CleaningJob.objects.count() == 300


def test_it_prints_progress_and_totals(generate):
    out = generate("--jobs", "1200")
    assert "Progress: 500/1200 jobs...\nProgress: 1000/1200 jobs...\nProgress: 1200/1200 jobs...\n" in out
    bids, reviews = Bid.objects.count(), Review.objects.count()
    assert f"Generated 1200 jobs, {bids:,} bids, {reviews:,} reviews in " in out


def test_it_creates_users_with_roles_tokens_and_one_password_hash(generate):
    generate()
    assert User.objects.filter(role=User.Role.CLEANER, username__startswith="cleaner").count() == 30
    assert User.objects.filter(role=User.Role.CLIENT, username__startswith="client").count() == 60
    operator = User.objects.get(username="operator")
    assert operator.role == User.Role.OPERATOR and operator.is_staff and not operator.is_superuser
    assert operator.check_password("demo")
    assert Token.objects.count() == User.objects.count() == 91
    assert User.objects.values("password").distinct().count() == 1


def test_it_keeps_the_marketplace_ratios(generate):
    generate()
    jobs = CleaningJob.objects.count()
    assert 1.4 <= Property.objects.count() / ClientProfile.objects.count() <= 2.0
    assert 3.5 <= Bid.objects.count() / jobs <= 5.5
    assert 0.85 <= Review.objects.count() / jobs <= 0.95
    assert CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).count() == 15
    assert CleaningJob.objects.filter(status=CleaningJob.Status.CANCELLED).exists()


def test_it_closes_every_completed_job_with_one_accepted_bid_one_review_and_one_expected_rating(generate):
    generate()
    completed = CleaningJob.objects.filter(status=CleaningJob.Status.COMPLETED).annotate(
        accepted=Count("bids", filter=Q(bids__status=Bid.Status.ACCEPTED)),
        pending=Count("bids", filter=Q(bids__status=Bid.Status.PENDING)),
    )
    assert completed.exists()
    assert set(completed.values_list("accepted", "pending")) == {(1, 0)}
    for job in completed.select_related("review"):
        assert job.review.cleaner_id == job.assigned_cleaner_id
        assert job.bids.get(status=Bid.Status.ACCEPTED).cleaner_id == job.assigned_cleaner_id
    assert Review.objects.count() == ExpectedRating.objects.count() == completed.count()
    assert not ExpectedRating.objects.exclude(job__status=CleaningJob.Status.COMPLETED).exists()


def test_it_marks_cancellations_by_the_cleaner_on_the_hired_cleaner(generate):
    generate("--jobs", "1000")
    by_cleaner = CleaningJob.objects.filter(cancelled_by_cleaner=True)
    assert by_cleaner.exists()
    assert not by_cleaner.exclude(status=CleaningJob.Status.CANCELLED).exists()
    assert not by_cleaner.filter(assigned_cleaner=None).exists()
    assert not Review.objects.filter(job__status=CleaningJob.Status.CANCELLED).exists()


def test_it_schedules_open_jobs_after_the_reference_date_and_the_rest_in_the_year_before(generate):
    reference = datetime(2031, 3, 15, tzinfo=UTC)
    generate("--reference-date", "2031-03-15T00:00Z")
    open_jobs = CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS)
    past = CleaningJob.objects.exclude(status=CleaningJob.Status.OPEN_FOR_BIDS)
    assert open_jobs.filter(scheduled_start__gt=reference).count() == open_jobs.count() > 0
    assert not open_jobs.filter(assigned_cleaner__isnull=False).exists()
    assert set(Bid.objects.filter(job__in=open_jobs).values_list("status", flat=True)) == {Bid.Status.PENDING}
    assert (
        past.filter(scheduled_end__lt=reference, scheduled_start__gte=datetime(2030, 3, 15, tzinfo=UTC)).count()
        == past.count()
    )


def test_it_defaults_to_a_fixed_reference_date(generate):
    generate()
    first_open = CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).earliest("scheduled_start")
    assert first_open.scheduled_start > DEFAULT_REFERENCE_DATE == datetime(2026, 12, 1, tzinfo=UTC)


def test_it_never_double_books_a_cleaner(generate):
    generate("--jobs", "1000", "--cleaners", "20")
    rows = list(
        CleaningJob.objects.filter(status=CleaningJob.Status.COMPLETED)
        .order_by("assigned_cleaner_id", "scheduled_start")
        .values_list("assigned_cleaner_id", "scheduled_start", "scheduled_end")
    )
    overlaps = [(a, b) for a, b in zip(rows, rows[1:]) if a[0] == b[0] and b[1] < a[2]]
    assert overlaps == []


def test_it_hides_a_structure_that_ratings_reveal(generate):
    generate("--jobs", "1000")
    expected = dict(ExpectedRating.objects.values_list("job_id", "expected_rating"))
    reviews = list(Review.objects.values_list("job_id", "rating", "cleaner__specialties_mask", "job__service_type"))
    ratings = np.array([rating for _, rating, _, _ in reviews], dtype=float)
    truth = np.array([expected[job_id] for job_id, _, _, _ in reviews])
    assert np.corrcoef(truth, ratings)[0, 1] > 0.6
    specialty = np.array([bool(mask & SERVICE_BIT[service]) for _, _, mask, service in reviews])
    assert ratings[specialty].mean() > ratings[~specialty].mean()


def test_it_keeps_every_review_on_the_one_to_ten_scale(generate):
    generate()
    assert set(Review.objects.values_list("rating", flat=True)) <= set(range(1, 11))
    assert all(1.0 <= e <= 10.0 for e in ExpectedRating.objects.values_list("expected_rating", flat=True))


def _reset_sequences() -> str:
    out = StringIO()
    call_command("reset_sequences", stdout=out)
    return out.getvalue()


def test_it_resets_sequences_so_that_a_plain_insert_does_not_collide():
    if connection.vendor == "postgresql":
        # Take the id the sequence would hand out next, so that without the reset the plain
        # insert below would collide with this explicit one.
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [User._meta.db_table])
            explicit_id = cursor.fetchone()[0] + 1
    else:
        explicit_id = (User.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    User.objects.create(id=explicit_id, username="explicit")

    out = _reset_sequences()

    if connection.vendor == "sqlite":
        assert out == "SQLite keeps no sequences to reset: nothing to do.\n"
    else:
        assert out.startswith("Reset ") and "sequences" in out
    plain = User.objects.create(username="plain")
    assert plain.id > explicit_id


def test_it_resets_the_sequences_of_many_to_many_tables_and_tokens_too():
    models = project_models()
    assert {User, CleaningJob, ExpectedRating, BLOCKS, Token} <= set(models)
