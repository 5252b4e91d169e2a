"""Names shared by the web and the worker: tasks, queues, and the model files.

The web enqueues by name (`app.send_task(RECOMMEND_CLEANERS, ...)`) so it never imports the
task modules, and with them the ML code and torch. The model files' names are here too: the
worker's model store writes them and the operator page reads a version's metadata, and
neither may import the other. Plain Python: no Django, no torch.
"""

import re
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
REQUESTS_SWEEP = "maintenance.requests_sweep"
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
    REQUESTS_SWEEP: Queue.MAINTENANCE,
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


# Model files: hybrid_recommendation_v{version}.pt with hybrid_recommendation_v{version}_metadata.json
# beside it. A version is 1-64 letters, digits, '.', '_' or '-', so it never names a path
# outside the models directory.
MODEL_NAME = "hybrid_recommendation"
MODEL_VERSION_PATTERN = re.compile(r"[0-9A-Za-z._-]{1,64}")
MODEL_METADATA_PATTERN = re.compile(rf"{MODEL_NAME}_v(?P<version>.+)_metadata\.json")


def model_version_valid(version: object) -> bool:
    return isinstance(version, str) and MODEL_VERSION_PATTERN.fullmatch(version) is not None


def model_weights_file(version: str) -> str:
    return f"{MODEL_NAME}_v{version}.pt"


def model_metadata_file(version: str) -> str:
    return f"{MODEL_NAME}_v{version}_metadata.json"
