"""The pages each role can open, with real ids from the `records` fixture (conftest.py):
the Content Security Policy and accessibility scans visit the same list."""

from __future__ import annotations

from typing import Any


def biller_pages(r: dict[str, Any]) -> list[str]:
    return [
        "/", "/encounters/", f"/encounters/{r['encounter'].pk}/",
        "/claims/", "/claims/status/new/", f"/claims/status/{r['claim'].pk}/",
        "/claims/status/batches/", f"/claims/status/batches/{r['batch'].pk}/",
        "/claims/status/batches/upload/",
        "/eligibility/", "/eligibility/new/", f"/eligibility/lookups/{r['lookup'].pk}/",
        "/eligibility/batches/",
        "/claims/payer/", "/claims/payer/new/", f"/claims/payer/{r['payer_claim'].pk}/",
        "/claims/payer/batches/",
        "/smart/", f"/smart/sessions/{r['visit'].pk}/", f"/smart/invoices/{r['invoice'].pk}/",
        "/smart/not-billed/",
        "/followup/", "/followup/dashboard/", f"/followup/accounts/{r['encounter'].pk}/",
        "/followup/settings/",
    ]


def manager_pages(r: dict[str, Any]) -> list[str]:
    return ["/", "/followup/", "/followup/dashboard/", "/audit/",
            "/claims/"]


def admin_pages(r: dict[str, Any]) -> list[str]:
    return ["/", "/audit/", "/followup/rechecks/", "/admin/", "/admin/revcycle/connection/",
            f"/admin/revcycle/connection/{r['integrex'].pk}/change/",
            "/admin/revcycle/encounter/", f"/admin/revcycle/encounter/{r['encounter'].pk}/change/",
            "/admin/auth/user/add/"]
