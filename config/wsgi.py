"""WSGI entry point for gunicorn."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()

# Load every view now (the URL conf imports them) rather than on the first request, then take
# all that out of the garbage collector's sight: it lives as long as the process, and a full
# collection that walks the framework's hundreds of thousands of objects stalls every thread
# of the process for about 50 ms. Collections then walk only what requests allocate.
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
