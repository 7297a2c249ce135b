"""The one HTMX polling contract every live page follows.

- A polling element is drawn with `{% poll_attrs url every %}` (templatetags/polling.py):
  `hx-get` its own URL, `hx-trigger="every Ns"`, `hx-swap="outerHTML"`, the header
  `X-Poll: 1`, and `aria-live="polite"` so a screen reader hears the change. Only while the
  thing is pending; a final fragment has none of these but keeps `aria-live`. The page's
  script (static/js/app.js) moves `aria-live` to a wrapper no swap replaces: a region
  swapped out whole would be a new one, whose content screen readers do not announce.
- A poll is recognised by that header and nothing else: `is_poll(request)`.
- One view serves the page and its fragment (`if request.htmx`). A poll costs a few
  indexed reads, never a call to a service.
- When the thing is final the view answers with `answer(request, response, final=True)`
  (status 286 to a poll): htmx swaps the last fragment in and stops polling.
- Long waits poll slowly: `poll_interval(...)` waits until the engine's next look (a
  ticket's `next_poll_at`), between FAST and SLOW seconds; a payer claim under review
  (hours to days) polls every SLOW seconds.
- A poll is never the user's activity: the idle logoff (middleware.py) skips it, so a page
  left polling still signs its user out after the idle timeout. A poll that arrives after
  that gets HX-Redirect to the login page, never a login form inside the fragment.
- A poll whose rows did not change costs one light read and no template: a list's polling
  element carries the fingerprint of what it shows (`{% poll_attrs url every seen %}` sends
  it back as `X-Poll-Seen`); the view reads the same page's ids, states and update times
  alone (no joins, no count) and, when they hash the same, answers `nothing_new()` (204:
  htmx swaps nothing and keeps polling). Only a change re-renders, and recounts.
- A fragment that swaps itself in never carries a `load` trigger (it would loop).
- A page that changes shape when its thing is done (a batch whose file a worker was
  reading) answers the poll that sees it done with `reload_page()` (HX-Refresh): htmx
  loads the whole page again, which no longer polls for that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRefresh
from django_htmx.middleware import HtmxDetails

POLL_HEADER = "X-Poll"
SEEN_HEADER = "X-Poll-Seen"  # the fingerprint of the polled fragment's rows
FAST = 2  # seconds: the engine rescans every 0.2 s, so a short job shows within this.
SLOW = 30  # seconds: a wait of hours needs no fresher page than this.


class HtmxHttpRequest(HttpRequest):
    """The request as django-htmx's middleware leaves it (its example app's typing)."""

    htmx: HtmxDetails


def is_poll(request: HttpRequest) -> bool:
    # Read from the headers, not request.htmx: the idle middleware runs before HtmxMiddleware.
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get(POLL_HEADER) == "1")


def poll_interval(*due: datetime | None, slow: bool = False) -> int:
    """Seconds until the next poll: just after the earliest `due` time (when the engine
    looks next), never below FAST nor above SLOW. A missing due time means the engine may
    move at any moment (a ticket being worked on): poll FAST."""
    if slow:
        return SLOW
    if not due or None in due:
        return FAST
    now = timezone.now()
    waits = [(when - now).total_seconds() for when in due if when is not None]
    # One second after the engine's look: its answer is stored by then.
    return min(max(math.ceil(min(waits)) + 1, FAST), SLOW)


def stop_polling(response: HttpResponse) -> HttpResponse:
    """The last fragment: htmx swaps it in and stops polling (status 286)."""
    response.status_code = HTMX_STOP_POLLING
    return response


def answer(request: HttpRequest, response: HttpResponse, *, final: bool,
           seen: str = "") -> HttpResponse:
    """A poll for a thing now final gets the last fragment with 286; anything else (the
    page, a poll of a pending thing) passes unchanged. `seen`, the fingerprint of a list's
    rows, is also sent as a response header (what a poll would send back; the bench and
    the tests read it there)."""
    if seen:
        response[SEEN_HEADER] = seen
    return stop_polling(response) if final and is_poll(request) else response


def reload_page() -> HttpResponse:
    """The answer to a poll whose page must be drawn anew (HX-Refresh: htmx reloads it)."""
    return HttpResponseClientRefresh()


def unchanged(request: HttpRequest, fingerprint: Callable[[], str]) -> bool:
    """A poll of a fragment that still shows what it showed: `fingerprint()` (asked only for
    a poll that sent one) hashes the same as the fragment's `X-Poll-Seen`."""
    seen = request.headers.get(SEEN_HEADER, "")
    return bool(seen) and is_poll(request) and fingerprint() == seen


def nothing_new() -> HttpResponse:
    """The answer to a poll whose fragment would not change: htmx swaps nothing on a 204
    and keeps polling."""
    return HttpResponse(status=204)
