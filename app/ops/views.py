"""`/ops/`: for operators, through the admin's session login.

Anonymous visitors go to the admin login (and come back here); a logged-in user who is not an
operator gets a 403 page, in HTML since this is a page, not the API.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from app.ops.dashboard import dashboard_context


@require_GET
@never_cache
def ops_dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.is_operator:
        return render(request, "ops/forbidden.html", status=403)
    return render(request, "ops/dashboard.html", dashboard_context())
