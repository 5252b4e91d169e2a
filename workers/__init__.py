"""The worker side: everything only a Celery worker runs.

- `celery.py`, `broker.py`, `names.py`: the Celery app, its Redis transport and the task,
  queue and model-file names. The web imports these three and nothing else from here.
- `tasks/`: thin, idempotent tasks that load by id and call one service.
- `recommend/`: candidates, features, the scorers, the engine, bidding, the cleaner table and
  the request runner.
- `feedback.py`: applying feedback events exactly once, and the sweeper.
- `training/`: the data layer, training, the champion–challenger gate, retraining, health.
- `ml/`: pure numpy/torch (no Django): the hybrid model, its metrics, the model store.
"""
