"""Marketplace tables.

Services and weekdays are stored as bit masks so that candidate selection ("offers the
service", "works on that weekday") stays a single indexed SQL query on SQLite and PostgreSQL
alike; `SERVICE_TYPES` gives each bit its name.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

SERVICE_TYPES = ("standard", "deep", "move_out", "post_construction", "office", "carpet", "window")
# In this order in the features and the synthetic marketplace (a one-hot index).
PROPERTY_TYPES = ("apartment", "house", "condo", "office")
SERVICE_BIT = {name: 1 << i for i, name in enumerate(SERVICE_TYPES)}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# The marketplace's own id of a row: what ingestion is keyed by and every answer carries. Letters,
# digits and `._:@-`, 1-64 characters, so that it can stand in a URL path as it is.
EXTERNAL_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}"
external_id_validator = RegexValidator(
    rf"^{EXTERNAL_ID_PATTERN}\Z",
    "Use 1 to 64 letters, digits, '.', '_', ':', '@' or '-', starting with a letter or digit.",
)


def external_id_new() -> str:
    """An id for a row made here (the admin, a test) rather than sent by the marketplace."""
    return f"local-{uuid.uuid4().hex}"


def external_id_field() -> models.CharField:
    return models.CharField(
        max_length=64,
        unique=True,
        default=external_id_new,
        validators=[external_id_validator],
        help_text="The marketplace's own id of this row (unique per type).",
    )


def services_to_mask(names: list[str] | tuple[str, ...]) -> int:
    return sum(SERVICE_BIT[n] for n in set(names))


def mask_to_services(mask: int) -> list[str]:
    return [name for name, bit in SERVICE_BIT.items() if mask & bit]


class CleanerProfile(models.Model):
    external_id = external_id_field()
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cleaner_profile")
    home_lat = models.FloatField()
    home_lng = models.FloatField()
    service_radius_km = models.FloatField(default=15, validators=[MinValueValidator(0)])
    hourly_rate = models.DecimalField(max_digits=8, decimal_places=2)
    years_experience = models.PositiveSmallIntegerField(default=0)
    # Bit masks over SERVICE_TYPES: what the cleaner does, and what they are especially good at.
    services_mask = models.PositiveIntegerField(default=0, help_text="Bit mask over SERVICE_TYPES offered")
    specialties_mask = models.PositiveIntegerField(default=0, help_text="Bit mask over SERVICE_TYPES of specialties")
    # Weekly availability: bit i = WEEKDAYS[i]; hours in the cleaner's (the marketplace's) UTC day.
    available_days_mask = models.PositiveSmallIntegerField(default=0b0011111)
    day_start_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    day_end_hour = models.PositiveSmallIntegerField(default=18, validators=[MaxValueValidator(24)])
    verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["is_active", "home_lat", "home_lng"], name="cleaner_active_geo")]

    def __str__(self) -> str:
        return f"cleaner {self.pk} ({self.user.username})"

    @property
    def services(self) -> list[str]:
        return mask_to_services(self.services_mask)

    @property
    def specialties(self) -> list[str]:
        return mask_to_services(self.specialties_mask)

    @property
    def availability(self) -> dict[str, list[int]]:
        return {
            day: [self.day_start_hour, self.day_end_hour]
            for i, day in enumerate(WEEKDAYS)
            if self.available_days_mask & (1 << i)
        }


class ClientProfile(models.Model):
    external_id = external_id_field()
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_profile")
    phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    blocked_cleaners = models.ManyToManyField(CleanerProfile, blank=True, related_name="blocked_by")

    def __str__(self) -> str:
        return f"client {self.pk} ({self.user.username})"


class Property(models.Model):
    class Type(models.TextChoices):
        APARTMENT = "apartment"
        HOUSE = "house"
        CONDO = "condo"
        OFFICE = "office"

    external_id = external_id_field()
    owner = models.ForeignKey(ClientProfile, on_delete=models.CASCADE, related_name="properties")
    property_type = models.CharField(max_length=16, choices=Type.choices)
    address = models.CharField(max_length=255, blank=True)
    size_sqft = models.PositiveIntegerField()
    bedrooms = models.PositiveSmallIntegerField(default=1)
    bathrooms = models.PositiveSmallIntegerField(default=1)
    has_pets = models.BooleanField(default=False)
    lat = models.FloatField()
    lng = models.FloatField()

    class Meta:
        verbose_name_plural = "properties"

    def __str__(self) -> str:
        return f"{self.property_type} {self.pk}"


class CleaningJob(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN_FOR_BIDS = "open_for_bids"
        ASSIGNED = "assigned"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    ServiceType = models.TextChoices("ServiceType", [(s, s.replace("_", " ")) for s in SERVICE_TYPES])

    external_id = external_id_field()
    # Null once the client (and so the property) is deleted: the job stays as the cleaners'
    # history, never recommended again (README, "Deleting a person").
    property = models.ForeignKey(Property, null=True, on_delete=models.SET_NULL, related_name="jobs")
    client = models.ForeignKey(ClientProfile, null=True, on_delete=models.SET_NULL, related_name="jobs")
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    service_type = models.CharField(max_length=32, choices=ServiceType.choices)
    scheduled_start = models.DateTimeField()
    # Stored, not derived, so that "is the cleaner busy then?" is a plain indexed comparison.
    scheduled_end = models.DateTimeField()
    duration_hours = models.DecimalField(max_digits=5, decimal_places=2)
    budget = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    assigned_cleaner = models.ForeignKey(
        CleanerProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_jobs"
    )
    cancelled_by_cleaner = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "scheduled_start"], name="job_status_start"),
            models.Index(fields=["client", "status"], name="job_client_status"),
            models.Index(fields=["assigned_cleaner", "status"], name="job_cleaner_status"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.service_type}, {self.status})"


class Bid(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"

    external_id = external_id_field()
    job = models.ForeignKey(CleaningJob, on_delete=models.CASCADE, related_name="bids")
    # Null once the cleaner is deleted: the job's history (which bid won, at what price) stays.
    cleaner = models.ForeignKey(CleanerProfile, null=True, on_delete=models.SET_NULL, related_name="bids")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    message = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "cleaner"], name="one_bid_per_cleaner_per_job")]
        indexes = [
            models.Index(fields=["job", "status"], name="bid_job_status"),
            models.Index(fields=["cleaner", "status"], name="bid_cleaner_status"),
        ]

    def __str__(self) -> str:
        return f"bid {self.pk} on job {self.job_id}: {self.amount}"


class Review(models.Model):
    external_id = external_id_field()
    job = models.OneToOneField(CleaningJob, on_delete=models.CASCADE, related_name="review")
    # Null once that person is deleted: the rating stays for the other side's history.
    cleaner = models.ForeignKey(CleanerProfile, null=True, on_delete=models.SET_NULL, related_name="reviews")
    client = models.ForeignKey(ClientProfile, null=True, on_delete=models.SET_NULL, related_name="reviews")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(10)])
    on_time = models.BooleanField(default=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["cleaner", "created_at"], name="review_cleaner_created")]

    def __str__(self) -> str:
        return f"review {self.pk}: {self.rating}/10"


class IdempotencyRecord(models.Model):
    """A batch call made with an Idempotency-Key, and its answer (app/marketplace/api/idempotency.py)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.TextField(default="")  # the answer's bytes as sent: jsonb would reorder its keys
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")]

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.key}"
