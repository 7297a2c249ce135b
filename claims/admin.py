"""Claim status results in the admin: read-only, with the raw payloads (admins only)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from claims.models import ClaimStatusResult, ServiceLine
from revcycle.admin import ReadOnlyAdmin


class ServiceLineInline(admin.TabularInline):
    model = ServiceLine
    extra = 0
    can_delete = False
    fields = ["svc_line", "procedure_qualifier", "procedure_code", "revenue_code", "units",
              "allowed_amount", "coinsurance_amount", "copay_amount", "noncovered_amount",
              "category_code", "status_code", "reason_code1", "reason_code2", "reason_code3"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClaimStatusResult)
class ClaimStatusResultAdmin(ReadOnlyAdmin):
    list_display = ["ticket_id", "internal_account_number", "payer_id", "category_code",
                    "status_code", "payment_amount", "response_date"]
    list_filter = ["category_code"]
    search_fields = ["internal_account_number", "payer_claim_number", "integrex_id"]
    inlines = [ServiceLineInline]
    readonly_fields = ["raw_request", "raw_response"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("ticket")

    @admin.display(description="request sent")
    def raw_request(self, obj: ClaimStatusResult) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.ticket.request, indent=2))

    @admin.display(description="raw answer")
    def raw_response(self, obj: ClaimStatusResult) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.ticket.response, indent=2))

