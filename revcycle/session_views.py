"""The session's time left, and "stay signed in" (static/js/session.js)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from revcycle.middleware import idle_seconds_left, mark_activity


@never_cache
@require_http_methods(["GET", "POST"])
def session_status(request: HttpRequest) -> JsonResponse:
    """GET (sent as a poll, so not activity): the idle seconds left. POST: the person
    clicked "stay signed in", which is activity."""
    if request.method == "POST":
        mark_activity(request)
    return JsonResponse({"idle_seconds": idle_seconds_left(request)})
