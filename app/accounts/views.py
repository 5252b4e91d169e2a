"""The admin's login page behind the login guard: an attempt over the limits gets a 429 page.

While the guard cannot read its counters (Redis down) every attempt gets a 503 page instead.
"""

from __future__ import annotations

import math

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from app.accounts.login_guard import LoginGuardUnavailable, LoginRefused


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """`admin.site.login`, except that a refused attempt (`LoginRefused`, from authenticate()) is a 429."""
    try:
        return admin.site.login(request)
    except LoginRefused as refused:
        context = {
            **admin.site.each_context(request),
            "title": "Too many failed logins",
            "wait_minutes": math.ceil(refused.wait / 60),
        }
        response = TemplateResponse(request, "accounts/login_refused.html", context, status=429)
        response["Retry-After"] = str(refused.wait)
        return response
    except LoginGuardUnavailable:
        context = {**admin.site.each_context(request), "title": "Logins unavailable"}
        response = TemplateResponse(request, "accounts/login_unavailable.html", context, status=503)
        response["Retry-After"] = "30"
        return response
