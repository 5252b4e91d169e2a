"""What tests in several folders share: fixtures (loaded as plugins by tests/conftest.py) and helpers.

- `processes`: real Celery worker processes, the session's and private ones.
- `training`: the models directory, a small trained marketplace, the trainer worker.
- `net`: a free port, and the service's Redis made unreachable.
- `auth`: API clients that send a user's token.
- `webhooks`: real HTTP receivers on 127.0.0.1.
- `waiting`: `wait_until`, for what another thread or process does.
- `feedback`: recommendation rows and feedback events, and posting them.
- `scripts`: start scripts run against stub executables.
- `netns`: test hosts on this machine (network namespaces), with PostgreSQL and Redis inside one.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: where scripts, compose files and var/ are
