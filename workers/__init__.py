"""The Celery side: the Celery app, thin tasks, and `ml/` (the only code that imports torch)."""
