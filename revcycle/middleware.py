"""Sessions end after SESSION_IDLE_TIMEOUT seconds without a request of the user's own
(HIPAA 164.312(a)(2)(iii), automatic logoff), and SESSION_ABSOLUTE_LIFETIME seconds after
sign-in whatever the activity. Polls (revcycle/polling.py) are not the user's activity: a
page left polling still signs its user out. Every request has an id for its log lines.
Signed-in pages are not cached, admins and managers pass a second factor, and every PHI
page needs its permission and leaves an audit row."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect

from revcycle import audit, logs
from revcycle.polling import is_poll
from revcycle.roles import has_perm

LAST_ACTIVITY = "last_activity"
SIGNED_IN_AT = "signed_in_at"
# Every authenticated answer tells the page how long the session has left without
# activity (static/js/session.js warns before the end).
IDLE_HEADER = "X-Idle-Seconds"


def mark_activity(request: HttpRequest) -> None:
    """The user acted now: the idle clock restarts."""
    request.session[LAST_ACTIVITY] = time.time()


def idle_seconds_left(request: HttpRequest) -> int | None:
    """Seconds until the idle logoff, or None without a signed-in session."""
    last = request.session.get(LAST_ACTIVITY) if hasattr(request, "session") else None
    if last is None:
        return None
    return max(round(settings.SESSION_IDLE_TIMEOUT - (time.time() - last)), 0)


class IdleTimeoutMiddleware:
    # Writing the session on every request would cost a database write each time; a
    # minute's precision is plenty for 15 (the page is told the exact time left).
    WRITE_EVERY = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self.enforce(request)
        response = self.get_response(request)
        if (left := idle_seconds_left(request)) is not None:
            response[IDLE_HEADER] = str(left)
        return response

    def enforce(self, request: HttpRequest) -> None:
        now = time.time()
        session = request.session
        started = session.setdefault(SIGNED_IN_AT, now)
        last = session.get(LAST_ACTIVITY, now)
        if now - started > settings.SESSION_ABSOLUTE_LIFETIME:
            hours = settings.SESSION_ABSOLUTE_LIFETIME // 3600
            self.end(request, f"You were signed out: a session lasts at most {hours} hours.")
        elif now - last > settings.SESSION_IDLE_TIMEOUT:
            minutes = settings.SESSION_IDLE_TIMEOUT // 60
            self.end(request, f"You were signed out after {minutes} minutes without activity.")
        elif LAST_ACTIVITY not in session or (
                not is_poll(request) and now - last >= self.WRITE_EVERY):
            mark_activity(request)

    @staticmethod
    def end(request: HttpRequest, why: str) -> None:
        logout(request)
        messages.info(request, why)


class HtmxLoginRedirectMiddleware:
    """A fragment request whose session ended is sent to the login page as a whole page
    (HX-Redirect), instead of htmx swapping the login form into a table cell."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.headers.get("HX-Request") == "true" and response.status_code == 302
                and response["Location"].startswith(resolve_url(settings.LOGIN_URL))):
            redirect = HttpResponseClientRedirect(response["Location"])
            # Keep what inner middleware set, e.g. the "you were signed out" message cookie.
            redirect.cookies = response.cookies
            return redirect
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


class NoStoreMiddleware:
    """Every page a signed-in person sees may hold PHI: no browser cache, back-button copy
    or shared proxy may keep it (Cache-Control: no-store)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        response = self.get_response(request)
        if signed_in or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response


class TwoFactorMiddleware:
    """Admins and managers (and anyone who enrolled a device) verify a second factor before
    any page; until then every page sends them to set up or verify their authenticator."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: Any,
                     view_kwargs: Any) -> HttpResponse | None:
        from revcycle import twofactor

        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if (not getattr(view_func, "login_required", True)
                or (match and match.view_name in twofactor.EXEMPT_VIEWS)
                or not twofactor.required(user)):
            return None
        target = twofactor.next_step_url(user, request.get_full_path())
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(target)
        return redirect(target)


class PhiAccessMiddleware:
    """The pages apps register as showing PHI (revcycle.audit.PHI_PAGES) need their
    permission, and each read of one, or of a PHI model's admin page, leaves an audit row.
    One place for both, instead of a call in every view that a new view could forget."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = audit.current_request.set(request)
        try:
            response = self.get_response(request)
            self._audit(request, response)
        finally:
            audit.current_request.reset(token)
        return response

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: Any,
                     view_kwargs: Any) -> None:
        match = request.resolver_match
        page = audit.PHI_PAGES.get(match.view_name) if match else None
        user: Any = getattr(request, "user", None)
        if page and page.perm and not has_perm(user, page.perm):
            raise PermissionDenied(f"Your role does not allow this ({page.perm}).")

    def _audit(self, request: HttpRequest, response: HttpResponse) -> None:
        user: Any = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        if (match is None or user is None or not user.is_authenticated
                or request.method not in ("GET", "HEAD") or response.status_code != 200):
            return
        if page := audit.PHI_PAGES.get(match.view_name):
            audit.record_page_read(request, page)
        elif match.namespace == "admin":
            audit.record_admin_read(request)
