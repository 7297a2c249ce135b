"""The sandbox's own control endpoints: knobs, request stats, token revocation."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox.knobs import (
    KNOBS,
    effective_knobs,
    machine_endpoint,
    reset_knobs,
    reset_stats,
    stored_values,
)
from sandbox.knobs import set_knobs as store_knobs
from sandbox.knobs import stats as request_stats
from sandbox.tokens import revoke_all_tokens


def _knobs_json() -> dict:
    return {"effective": effective_knobs(), "stored": stored_values(),
            "knobs": [{"name": k.name, "header": k.header_name, "setting": k.setting,
                       "default": k.default, "help": k.help} for k in KNOBS]}


@machine_endpoint
@require_http_methods(["GET", "POST"])
def knobs(request: HttpRequest) -> HttpResponse:
    """GET the knobs; POST {"latency_ms": 200, "ready_after": 5, ...} to set them (null
    unsets one; {"reset": true} unsets all)."""
    if request.method == "POST":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return JsonResponse({"error": "the body must be a JSON object"}, status=400)
        if data.pop("reset", False):
            reset_knobs()
        try:
            store_knobs(**data)
        except (ValueError, TypeError) as exc:
            return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(_knobs_json())


@machine_endpoint
@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    """Requests per (service, endpoint, method), with token/POST/GET totals."""
    return JsonResponse(request_stats())


@machine_endpoint
@require_POST
def stats_reset(request: HttpRequest) -> HttpResponse:
    reset_stats()
    return JsonResponse(request_stats())


@machine_endpoint
@require_POST
def revoke_tokens(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"revoked": revoke_all_tokens()})
