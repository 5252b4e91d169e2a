"""`manage.py setup_schedules`: create or update the periodic tasks beat runs. Idempotent."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from workers import names

# (name, task, crontab fields in UTC, queue)
SCHEDULES = [
    (
        "Refresh cleaner scores (daily)",
        names.REFRESH_CLEANER_SCORES,
        {"minute": "30", "hour": "2", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"},
        "maintenance",
    ),
    (
        "Re-enqueue lost recommendation requests (every minute)",
        names.REQUESTS_SWEEP,
        {"minute": "*", "hour": "*", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"},
        "maintenance",
    ),
    (
        "Send due webhook retries (every minute)",
        names.WEBHOOK_SWEEP,
        {"minute": "*", "hour": "*", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"},
        "webhooks",
    ),
    (
        "Re-enqueue unapplied feedback (every minute)",
        names.FEEDBACK_SWEEP,
        {"minute": "*", "hour": "*", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"},
        "feedback",
    ),
    (
        "Retrain the recommendation model (monthly)",
        names.RETRAIN,
        {"minute": "0", "hour": "3", "day_of_month": "1", "month_of_year": "*", "day_of_week": "*"},
        "training",
    ),
    (
        "Check the active model's health (daily)",
        names.MODEL_HEALTH_CHECK,
        {"minute": "0", "hour": "4", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"},
        "maintenance",
    ),
]


class Command(BaseCommand):
    help = "Create or update the periodic tasks (django-celery-beat, database scheduler)."

    @transaction.atomic
    def handle(self, *args, **opts) -> None:
        for name, task, cron, queue in SCHEDULES:
            schedule, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **cron)
            _, created = PeriodicTask.objects.update_or_create(
                name=name,
                defaults={"task": task, "crontab": schedule, "queue": queue, "enabled": True},
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} -> {task}")
