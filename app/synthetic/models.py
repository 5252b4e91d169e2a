"""What the generator leaves besides the marketplace: ground truth, and its demo accounts.

`ExpectedRating`: the noise-free expected rating of every completed job. The training data
layer never reads this table; only evaluation does, to measure the best R² any model could reach.
`DemoAccount`: every account the generator made, with the password hash it gave it, so a
deployment can tell (checks.py) whether any still opens with the demo password.
"""

from django.conf import settings
from django.db import models


class ExpectedRating(models.Model):
    job = models.OneToOneField("marketplace.CleaningJob", on_delete=models.CASCADE, related_name="+")
    cleaner = models.ForeignKey("marketplace.CleanerProfile", on_delete=models.CASCADE, related_name="+")
    # On the review's 1-10 scale, before rounding and noise.
    expected_rating = models.FloatField()

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.expected_rating:.2f}"


class DemoAccount(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="demo_account")
    # The hash the generator set: while the user's hash is still this one, the password is the demo one.
    password_hash = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"demo account {self.user_id}"
