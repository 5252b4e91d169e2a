"""Admin for integration keys: operators create, list and revoke them; a secret is shown once.

The secret is shown on the page that answers the creation, and nowhere else: not in a message
(which would travel in a cookie), not in the admin's log. Keys are revoked, never deleted: the
requests a key made stay attributed to its user.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from app.integrations.models import IntegrationKey
from app.integrations.services import integration_key_create, integration_key_revoke

_SHOWN = ("name", "prefix", "user", "created_by", "created_at", "last_used_at", "revoked_at")


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "is_active", "created_by", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    actions = ["revoke_keys"]

    # Operators only, whatever model permissions a staff account holds: a key reaches every subject.
    def _operator(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_operator

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_view_permission(self, request: HttpRequest, obj: IntegrationKey | None = None) -> bool:
        return self._operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_change_permission(self, request: HttpRequest, obj: IntegrationKey | None = None) -> bool:
        return self._operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: IntegrationKey | None = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: IntegrationKey | None = None) -> tuple[str, ...]:
        return _SHOWN if obj is not None else ("name",)

    def get_readonly_fields(self, request: HttpRequest, obj: IntegrationKey | None = None) -> tuple[str, ...]:
        return _SHOWN[1:] if obj is not None else ()

    @admin.display(boolean=True, description="active")
    def is_active(self, key: IntegrationKey) -> bool:
        return key.is_active

    def save_model(self, request: HttpRequest, obj: IntegrationKey, form, change: bool) -> None:
        if change:
            # The name only: a full save would write back a `revoked_at` read before a revocation.
            obj.save(update_fields=["name"])
            return
        _, obj.issued_secret = integration_key_create(name=obj.name, created_by=request.user, key=obj)

    def response_add(self, request: HttpRequest, obj: IntegrationKey, post_url_continue=None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Integration key {obj.prefix}… created",
            "key": obj,
            "secret": obj.issued_secret,
        }
        # Every admin page is `never_cache` (Cache-Control: no-store, ...): no cache keeps this one.
        return TemplateResponse(request, "admin/integrations/integrationkey/created.html", context)

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[IntegrationKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            integration_key_revoke(key=key)
        self.message_user(request, f"Revoked {len(keys)} key(s); they are refused from now on.", messages.SUCCESS)
