"""What Django's error reports may show: no secret, even with DEBUG on.

Django's debug pages (DJANGO_DEBUG=1 only) and error e-mails mask settings, request headers,
environment variables and frame variables whose names look secret (KEY, SECRET, PASS, TOKEN,
AUTH, ...). A password inside a URL is not masked by its name: `REDIS_URL`, `CELERY_BROKER_URL`,
a cache's `LOCATION`, and `DATABASE_URL` in the environment that runserver copies into
`request.META`. This filter also masks the credentials of any URL, wherever a value holds one,
and applies the name-based masking to frame variables too.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@ or scheme://token@ (no slash, space or @ before the @).
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


class SecretlessExceptionReporterFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key: Any, value: Any) -> Any:
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            return _URL_CREDENTIALS.sub(rf"\g<1>{self.cleansed_substitute}@", value)
        return value

    def get_traceback_frame_variables(self, request, tb_frame) -> list[tuple[str, Any]]:
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
