"""`python -m tests.support.fault_seed`: the fault tests' marketplace and callers, as JSON on stdout.

Run once per session against the template database (tests/support/stack.py): a small generated
marketplace, a token per client, the jobs each client may ask about, and cleaner
recommendation rows for the feedback traffic (each viewed once).
"""

from __future__ import annotations

import json
import random

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command
    from django.db.models import Sum
    from rest_framework.authtoken.models import Token

    from app.marketplace.models import CleanerProfile, CleaningJob
    from app.recommendations.models import CleanerRecommendation, CleanerScore, Mode, RecommendationFeedback

    call_command("generate_training_data", jobs=300, cleaners=40, clients=30, verbosity=0)
    rng = random.Random(7)
    cleaners = list(CleanerProfile.objects.values_list("pk", flat=True))
    callers = []
    for client_user_id in CleaningJob.objects.values_list("client__user_id", flat=True).distinct():
        jobs = list(CleaningJob.objects.filter(client__user_id=client_user_id).values_list("pk", flat=True)[:8])
        # Generated jobs are mostly history (completed): these are asked about, so open.
        CleaningJob.objects.filter(pk__in=jobs).update(status=CleaningJob.Status.OPEN_FOR_BIDS)
        recs = CleanerRecommendation.objects.bulk_create(
            CleanerRecommendation(
                job_id=jobs[0], cleaner_id=rng.choice(cleaners), score=0.5, rank=r, mode=Mode.RULE_BASED
            )
            for r in range(1, 41)
        )
        token = Token.objects.get_or_create(user_id=client_user_id)[0].key
        callers.append({"token": token, "jobs": jobs, "recommendations": [r.pk for r in recs]})
    viewed_before = CleanerScore.objects.aggregate(n=Sum("times_viewed"))["n"] or 0
    feedback_before = RecommendationFeedback.objects.filter(event="viewed").count()
    seed = {"callers": callers, "viewed_before": viewed_before, "feedback_viewed_before": feedback_before}
    print("SEED=" + json.dumps(seed))


if __name__ == "__main__":
    main()
