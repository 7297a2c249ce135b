"""Sessions end after SESSION_IDLE_TIMEOUT seconds without a request; every request has
an id for its log lines."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from revcycle import logs


class IdleTimeoutMiddleware:
    KEY = "last_activity"
    WRITE_EVERY = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(self.KEY, now)
            if now - last > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                messages.info(request, "You were signed out after 15 minutes without activity.")
            elif now - last >= self.WRITE_EVERY or self.KEY not in request.session:
                # Writing the session on every request (2-second polls included) would cost
                # a database write each time; a minute's precision is plenty for 15.
                request.session[self.KEY] = now
        return self.get_response(request)


class HtmxLoginRedirectMiddleware:
    """A fragment request whose session ended is sent to the login page as a whole page
    (HX-Redirect), instead of htmx swapping the login form into a table cell."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.headers.get("HX-Request") == "true" and response.status_code == 302
                and response["Location"].startswith(resolve_url(settings.LOGIN_URL))):
            return HttpResponseClientRedirect(response["Location"])
        return response


class RequestIdMiddleware:
    """First in MIDDLEWARE: every line logged while the request runs carries its id
    (revcycle/logs.py), and the response returns it (X-Request-ID) so a person can quote
    it to IT. A proxy's id is kept when it is safe to log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = logs.id_from_header(request.headers.get(logs.HEADER, ""))
        token = logs.request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            # Threads are reused between requests: never let an id leak into the next one.
            logs.request_id.reset(token)
        response[logs.HEADER] = rid
        return response
