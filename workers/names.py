"""Task and queue names shared by the web and the worker.

The web enqueues by name (`app.send_task(RECOMMEND_CLEANERS, ...)`) so it never imports the
task modules, and with them the ML code and torch.
"""

from enum import StrEnum


class Queue(StrEnum):
    RECOMMENDATIONS = "recommendations"
    FEEDBACK = "feedback"
    WEBHOOKS = "webhooks"
    TRAINING = "training"
    MAINTENANCE = "maintenance"


RECOMMEND_CLEANERS = "recommendations.recommend_cleaners_for_job"
RECOMMEND_JOBS = "recommendations.recommend_jobs_for_cleaner"
SUGGEST_BID = "recommendations.suggest_bid"
PING = "recommendations.ping"
REFRESH_CLEANER_SCORES = "maintenance.refresh_cleaner_scores"
WEBHOOK_DELIVER = "webhooks.deliver"
WEBHOOK_SWEEP = "webhooks.sweep"
FEEDBACK_APPLY = "feedback.apply"
FEEDBACK_SWEEP = "feedback.sweep"
RETRAIN = "training.retrain"
MODEL_VERSION_CHECK = "recommendations.model_version_check"
MODEL_POINTER_SYNC = "maintenance.model_pointer_sync"
MODEL_HEALTH_CHECK = "maintenance.model_health_check"

TASK_QUEUES = {
    RECOMMEND_CLEANERS: Queue.RECOMMENDATIONS,
    RECOMMEND_JOBS: Queue.RECOMMENDATIONS,
    SUGGEST_BID: Queue.RECOMMENDATIONS,
    PING: Queue.RECOMMENDATIONS,
    REFRESH_CLEANER_SCORES: Queue.MAINTENANCE,
    WEBHOOK_DELIVER: Queue.WEBHOOKS,
    WEBHOOK_SWEEP: Queue.WEBHOOKS,
    FEEDBACK_APPLY: Queue.FEEDBACK,
    FEEDBACK_SWEEP: Queue.FEEDBACK,
    RETRAIN: Queue.TRAINING,
    # On the serving workers, which always listen and answer in milliseconds: an operator
    # waits for it, and it asks the very processes that will load the version.
    MODEL_VERSION_CHECK: Queue.RECOMMENDATIONS,
    MODEL_POINTER_SYNC: Queue.MAINTENANCE,
    MODEL_HEALTH_CHECK: Queue.MAINTENANCE,
}
