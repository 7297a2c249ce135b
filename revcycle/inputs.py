"""Request parameters that can never reach the database or a Python limit as they came.

- `parse_id`: an id from a form or query string: ASCII digits only (`"²".isdigit()` is
  true, and `int("²")` fails) and within a signed 64-bit integer (a primary key's range;
  PostgreSQL refuses larger ones, and int() refuses more than 4,300 digits).
- `BadInputMiddleware`: a NUL character in any parameter is a 400 (PostgreSQL cannot store
  or compare it: "A string literal cannot contain NUL (0x00) characters"), and an id in the
  path over the 64-bit range is a 404, before any view runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest

MAX_ID = 2**63 - 1


def parse_id(value: Any) -> int | None:
    """The id in `value`, or None when it is not one."""
    text = str(value if value is not None else "").strip()
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_ids(values: Iterable[Any], limit: int = 1000) -> list[int]:
    """The valid ids among `values` (a POSTed selection), at most `limit` of them."""
    ids = (parse_id(v) for v in values)
    return [i for i in ids if i is not None][:limit]


def _has_nul(data: Any) -> bool:
    return any("\x00" in key or any("\x00" in v for v in data.getlist(key)) for key in data)


class BadInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request.GET):
            return _nul_refused()
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any,
                     kwargs: dict[str, Any]) -> HttpResponse | None:
        if any(isinstance(v, int) and v > MAX_ID for v in kwargs.values()):
            raise Http404("No such record.")
        # Machine endpoints (webhooks, the sandbox: csrf_exempt) read the raw body
        # themselves; parsing a multipart body here would leave them none to read.
        if (request.method == "POST" and not getattr(view, "csrf_exempt", False)
                and _has_nul(request.POST)):
            return _nul_refused()
        return None


def _nul_refused() -> HttpResponse:
    return HttpResponseBadRequest("A parameter holds a NUL character.",
                                  content_type="text/plain")
