"""Every route answers an anonymous visitor with the login page, 404 or 405, except the
few that must be public, named here one predicate at a time. A new public page fails."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLES = ["1", "x", str(uuid.UUID(int=1))]


@dataclass
class Route:
    url: str
    name: str
    callback: Callable[..., Any]

    @property
    def public_by_design(self) -> bool:
        return getattr(self.callback, "login_required", True) is False


def _sample_for(regex: str) -> str:
    for sample in SAMPLES:
        if re.fullmatch(regex, sample):
            return sample
    raise AssertionError(f"no sample value matches the converter regex {regex!r}")


def _regex_segment(regex: str) -> str:
    """A string matching an admin-style regex: first alternative, a digit, or 'x'."""

    def group(match: re.Match[str]) -> str:
        inner = match.group(2)
        if re.fullmatch(r"[\w|]+", inner):
            return inner.split("|")[0]
        return "1" if r"\d" in inner else "x"

    text = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, regex)
    return text.lstrip("^").removesuffix(r"\Z").removesuffix("$").replace("\\", "")


def _segment(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        route = str(pattern._route)
        for name, converter in pattern.converters.items():
            route = re.sub(rf"<(?:\w+:)?{name}>", _sample_for(converter.regex), route)
        return route
    if isinstance(pattern, RegexPattern):
        return _regex_segment(pattern._regex)
    raise AssertionError(f"unknown pattern type {type(pattern).__name__}")


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + _segment(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield Route("/" + prefix + _segment(entry.pattern),
                        f"{namespace}{entry.name or ''}", entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


# The public routes, one predicate each. Add here only what must work without a login.
EXEMPT: dict[str, Callable[[Route], bool]] = {
    "the login page": lambda r: r.name in ("login", "admin:login"),
    "the load balancer health check": lambda r: r.url == "/healthz",
    "webhook receivers": lambda r: r.public_by_design and "webhook" in r.name,
    "the sandbox's machine endpoints": lambda r: r.url.startswith("/sandbox/"),
    "static files": lambda r: r.url.startswith("/" + settings.STATIC_URL.lstrip("/")),
}


def exemption(route: Route) -> str | None:
    return next((why for why, applies in EXEMPT.items() if applies(route)), None)


def test_every_route_gets_a_sample_url_that_resolves_back_to_it(db: Any) -> None:
    routes = all_routes()
    assert len(routes) > 20  # the walk reached the admin's routes too
    # A sample landing on an earlier, broader route would leave this one untested.
    unresolved = [r.url for r in routes if resolve(r.url).func is not r.callback]
    assert unresolved == []


def test_only_the_listed_routes_are_marked_login_not_required(db: Any) -> None:
    public = [(r.url, r.name) for r in all_routes() if r.public_by_design and not exemption(r)]
    assert public == [], f"new public routes: {public}"


@pytest.mark.parametrize("route", all_routes(), ids=lambda r: r.url)
def test_an_anonymous_visitor_gets_the_login_page_or_nothing(client: Any, db: Any,
                                                             route: Route) -> None:
    if exemption(route):
        pytest.skip(f"public by design: {exemption(route)}")
    response = client.get(route.url)
    if response.status_code in (404, 405):
        return
    assert response.status_code == 302, f"{route.url} answered {response.status_code}"
    location = response["Location"].split("?")[0]
    assert location in (reverse("login"), reverse("admin:login")), (
        f"{route.url} redirects to {location}, not to a login page")
