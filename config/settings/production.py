"""Production settings: secrets required, secure cookies, hosts from the environment."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
# X-Forwarded-Proto says "this came over TLS" only when a proxy of ours wrote it: with no proxy
# declared (TRUSTED_PROXY_COUNT=0) a client could send it and pass for a TLS connection.
if TRUSTED_PROXY_COUNT > 0:  # noqa: F405 (from .base)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
ALLOW_DEMO_ACCOUNTS = env.bool("ALLOW_DEMO_ACCOUNTS", default=False)
