"""Ground truth kept apart from the marketplace tables.

The generator's noise-free expected rating of every completed job. The training data layer
never reads this table; only evaluation does, to measure the best R² any model could reach.
"""

from django.db import models


class ExpectedRating(models.Model):
    job = models.OneToOneField("marketplace.CleaningJob", on_delete=models.CASCADE, related_name="+")
    cleaner = models.ForeignKey("marketplace.CleanerProfile", on_delete=models.CASCADE, related_name="+")
    # On the review's 1-10 scale, before rounding and noise.
    expected_rating = models.FloatField()

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.expected_rating:.2f}"
