"""Coverages are read-only in the admin: they are what Integrex said. Encrypted columns
(addresses, raw JSON) are left out of the list and search."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from eligibility.models import Coverage


@admin.register(Coverage)
class CoverageAdmin(admin.ModelAdmin):
    list_display = ("id", "ticket", "payer_name1", "payer_id1", "plan_type_code",
                    "coverage_status_desc", "applied_at")
    list_filter = ("plan_type_code", "coverage_status_code")
    search_fields = ("payer_name1", "payer_id1", "integrex_id", "ticket__account_number")
    raw_id_fields = ("ticket", "applied_by")
    exclude = ("raw",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Coverage._meta.fields if f.name != "raw"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
