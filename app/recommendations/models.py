"""The recommendation tables named in the deployment guide, and the request that produces them.

Every result row records its score, rank, the score's components, the mode and the model
version that produced it, and the request it belongs to: results are keyed by request, so a
redelivered task replaces its own rows and changes nothing else.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class Mode(models.TextChoices):
    RULE_BASED = "rule_based"
    NEURAL = "neural"
    ENSEMBLE = "ensemble"


class CleanerScore(models.Model):
    """Per-cleaner aggregates the rule-based scorer reads; refreshed daily and by feedback."""

    cleaner = models.OneToOneField("marketplace.CleanerProfile", on_delete=models.CASCADE, related_name="score")
    review_count = models.PositiveIntegerField(default=0)
    avg_rating = models.FloatField(null=True, blank=True)
    # Bayesian-smoothed rating in [0, 1]: a new cleaner sits at the marketplace mean.
    quality = models.FloatField(default=0.5)
    jobs_assigned = models.PositiveIntegerField(default=0)
    jobs_completed = models.PositiveIntegerField(default=0)
    jobs_cancelled = models.PositiveIntegerField(default=0)
    on_time_rate = models.FloatField(default=1.0)
    reliability = models.FloatField(default=0.5)
    bids_placed = models.PositiveIntegerField(default=0)
    bids_won = models.PositiveIntegerField(default=0)
    times_recommended = models.PositiveIntegerField(default=0)
    times_viewed = models.PositiveIntegerField(default=0)
    times_hired = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"score of cleaner {self.cleaner_id}: quality {self.quality:.2f}"


class CleanerChange(models.Model):
    """One row per written cleaner or score, by database triggers: what the workers' tables catch up on.

    Written by the triggers of migration 0006 in the writer's own transaction, whatever wrote
    (a save, `QuerySet.update`, a bulk insert, raw SQL, a delete), so no write path can forget
    it. `cleaner_id` is not a foreign key: a deleted cleaner's row must stay to say so; null
    means "everything" (a TRUNCATE, a flush, a migration). `txid` is the writer's PostgreSQL
    transaction id (null on SQLite): the reader's horizon (workers/recommend/cleaner_changes.py).
    """

    id = models.BigAutoField(primary_key=True)
    cleaner_id = models.BigIntegerField(null=True)
    txid = models.BigIntegerField(null=True)
    at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [
            models.Index(fields=["txid"], name="cleaner_change_txid"),
            models.Index(fields=["at"], name="cleaner_change_at"),
        ]

    def __str__(self) -> str:
        return f"cleaner {self.cleaner_id} changed (#{self.id})"


class RecommendationRequest(models.Model):
    class Kind(models.TextChoices):
        CLEANERS_FOR_JOB = "cleaners_for_job"
        JOBS_FOR_CLEANER = "jobs_for_cleaner"
        BID_SUGGESTION = "bid_suggestion"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(
        "marketplace.CleaningJob", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cleaner = models.ForeignKey(
        "marketplace.CleanerProfile", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    limit = models.PositiveSmallIntegerField(default=10)
    mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    callback_url = models.URLField(max_length=2048, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    model_version = models.CharField(max_length=32, blank=True)
    variant = models.CharField(max_length=32, blank=True)
    # A model version an A/B variant pins (see experiments.py); empty: the active version.
    pinned_model_version = models.CharField(max_length=32, blank=True)
    # Where the worker caches the answer (see cache.py); empty: not cached.
    cache_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["requested_by", "created_at"], name="recreq_user_created"),
            models.Index(fields=["status", "created_at"], name="recreq_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} request {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class _ScoredRow(models.Model):
    request = models.ForeignKey(
        RecommendationRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField()
    rule_based_score = models.FloatField(null=True, blank=True)
    neural_score = models.FloatField(null=True, blank=True)
    components = models.JSONField(default=dict)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    model_version = models.CharField(max_length=32, blank=True)
    variant = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class CleanerRecommendation(_ScoredRow):
    """A cleaner recommended to a client for a job."""

    job = models.ForeignKey("marketplace.CleaningJob", on_delete=models.CASCADE, related_name="cleaner_recommendations")
    cleaner = models.ForeignKey("marketplace.CleanerProfile", on_delete=models.CASCADE, related_name="+")
    was_viewed = models.BooleanField(default=False)
    was_hired = models.BooleanField(default=False)

    class Meta:
        ordering = ["request_id", "rank"]
        indexes = [
            models.Index(fields=["job", "created_at"], name="cleanerrec_job_created"),
            models.Index(fields=["created_at"], name="cleanerrec_created"),
        ]
        constraints = [models.UniqueConstraint(fields=["request", "rank"], name="cleanerrec_request_rank")]

    def __str__(self) -> str:
        return f"#{self.rank} cleaner {self.cleaner_id} for job {self.job_id}"


class JobRecommendation(_ScoredRow):
    """A job recommended to a cleaner, with what the cleaner then did with it."""

    cleaner = models.ForeignKey(
        "marketplace.CleanerProfile", on_delete=models.CASCADE, related_name="job_recommendations"
    )
    job = models.ForeignKey("marketplace.CleaningJob", on_delete=models.CASCADE, related_name="+")
    was_viewed = models.BooleanField(default=False)
    was_bid_placed = models.BooleanField(default=False)
    was_bid_accepted = models.BooleanField(default=False)

    class Meta:
        ordering = ["request_id", "rank"]
        indexes = [
            models.Index(fields=["cleaner", "created_at"], name="jobrec_cleaner_created"),
            models.Index(fields=["created_at"], name="jobrec_created"),
        ]
        constraints = [models.UniqueConstraint(fields=["request", "rank"], name="jobrec_request_rank")]

    def __str__(self) -> str:
        return f"#{self.rank} job {self.job_id} for cleaner {self.cleaner_id}"


class BidSuggestion(models.Model):
    request = models.OneToOneField(
        RecommendationRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    job = models.ForeignKey("marketplace.CleaningJob", on_delete=models.CASCADE, related_name="bid_suggestions")
    cleaner = models.ForeignKey("marketplace.CleanerProfile", on_delete=models.CASCADE, related_name="+")
    suggested_amount = models.DecimalField(max_digits=10, decimal_places=2)
    low = models.DecimalField(max_digits=10, decimal_places=2)
    high = models.DecimalField(max_digits=10, decimal_places=2)
    confidence = models.FloatField()
    components = models.JSONField(default=dict)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.RULE_BASED)
    model_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"suggest {self.suggested_amount} for job {self.job_id}"


class RecommendationFeedback(models.Model):
    """One feedback event. Written by the web in the request (the inbox), applied by the worker.

    `applied_at` is set by the worker in the same transaction that applies the event, so an
    event is applied once in effect however often its task is delivered.
    """

    class Event(models.TextChoices):
        VIEWED = "viewed"
        CLICKED = "clicked"
        BID_PLACED = "bid_placed"
        BID_ACCEPTED = "bid_accepted"
        DISMISSED = "dismissed"
        HIRED = "hired"
        RATED = "rated"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=128)
    event = models.CharField(max_length=16, choices=Event.choices)
    value = models.FloatField(null=True, blank=True)
    job_recommendation = models.ForeignKey(
        JobRecommendation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleaner_recommendation = models.ForeignKey(
        CleanerRecommendation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "marketplace.CleaningJob", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cleaner = models.ForeignKey(
        "marketplace.CleanerProfile", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # An event whose effects keep failing is set aside after a few tries (the dead-letter state):
    # the sweeper skips it, the operator page counts it, `last_error` says why.
    apply_failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "idempotency_key"], name="feedback_user_idem")]
        indexes = [models.Index(fields=["applied_at", "received_at"], name="feedback_pending")]

    def __str__(self) -> str:
        return f"{self.event} ({self.idempotency_key})"


class ModelVersion(models.Model):
    """The model registry: one row per trained version, and which one serves (see registry.py).

    At most one row is `active` (a partial unique constraint; `model_version_activate` also
    takes the rows' locks). `decision` says why a version was promoted or refused, with the
    numbers compared; `baseline` holds the online rates of the 30 days before its promotion,
    which the daily health check compares with the current ones.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate"  # trained, not (yet) serving
        ACTIVE = "active"
        RETIRED = "retired"  # served once; can be activated again (rollback)
        REJECTED = "rejected"  # refused by the champion–challenger gate

    version = models.CharField(max_length=32, unique=True)  # as in the files and the result rows
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    metrics = models.JSONField(default=dict, blank=True)  # model_train's evaluation on its validation slice
    training_data = models.JSONField(default=dict, blank=True)  # what it was trained on, and how
    # The newest review and applied feedback event that existed when training began: a retrain
    # with nothing newer has nothing new to learn from and is skipped.
    reviews_until = models.DateTimeField(null=True, blank=True)
    feedback_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # Null on a promoted version: the automatic gate (or the training command) promoted it.
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.JSONField(default=dict, blank=True)
    baseline = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="active"), name="modelversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"model {self.version} ({self.status})"


class ModelHealthCheck(models.Model):
    """One run of the daily model health check: the rates and metrics it compared, and its verdict."""

    class Verdict(models.TextChoices):
        OK = "ok"
        DEGRADED = "degraded"
        NO_MODEL = "no_model"  # nothing active: nothing to check

    version = models.CharField(max_length=32, blank=True)
    checked_at = models.DateTimeField(auto_now_add=True)
    online = models.JSONField(default=dict, blank=True)  # rates of the last 7 days
    baseline = models.JSONField(default=dict, blank=True)  # the version's rates at promotion
    offline = models.JSONField(default=dict, blank=True)  # metrics now, and at promotion
    problems = models.JSONField(default=list, blank=True)  # one line per drop beyond the threshold
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    alerted = models.BooleanField(default=False)

    class Meta:
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"health of {self.version or 'no model'} at {self.checked_at:%Y-%m-%d %H:%M}: {self.verdict}"
