"""Crafted parameters on every page and action (issue 14, #11): whatever a logged-in biller
or admin sends (ids past 2^63 in the path or the form, non-ASCII digits, NUL characters,
NaN and Infinity in amounts, non-numbers where ids go), the answer is never a 5xx.

The routes come from the URL resolver (as in tests/core/test_every_page_needs_login.py), so
a new page is fuzzed without being listed here."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
import responses
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revcycle import twofactor
from tests.conftest import verify_second_factor
from tests.core.test_every_page_needs_login import Route, all_routes

BIG = [str(2**63 - 1), str(2**63), str(2**64), "9" * 30, "9" * 5000, "-1", "0"]
ODD = [*BIG, "NaN", "-NaN", "Infinity", "-inf", "1e999", "²", "١٢", "1\x00", "\x00",
       "2024-13-45", "<script>", "1,234.50", "$12", "", " ", "me", "none", "x", "1.5"]
NAMES = ["ids", "ticket", "pk", "id", "encounter", "assignee", "action", "act", "q",
         "account", "benefit", "page", "cursor", "facility", "connection", "amount",
         "copay_amount", "quantity", "unit_price", "reason", "text", "name", "field",
         "claim_id", "invoiceNumber", "patientNumber", "sessionId", "status", "outcome",
         "payer", "state", "fragment", "poll", "environment", "daily_digest", "next",
         "view", "sort", "per_page"]
values = st.sampled_from(ODD) | st.text(max_size=12) | st.integers().map(str)
params = st.dictionaries(st.sampled_from(NAMES), st.lists(values, min_size=1, max_size=3),
                         max_size=5)
FUZZ = settings(max_examples=5, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Not fuzzed here: the login and logout pages (a logout ends the fuzz's session), the
# webhook receivers (tests/props/test_webhook_bodies.py), the admin (Django's own), the
# sandbox (the fake services, DEBUG only) and /healthz (its 503 means "no worker").
SKIP = re.compile(r"^/(admin|sandbox|static)/|^/accounts/|webhook|^/healthz$")
ROUTES = [r for r in all_routes() if not SKIP.search(r.url)]


def _path(route: Route, pk: str) -> str:
    """The route's sample URL with its id segments (the sample "1") replaced by `pk`."""
    return re.sub(r"/1(?=/|\.csv$)", f"/{pk}", route.url)


def _signed_in(user: Any) -> Client:
    """A client of its own per user, second factor passed once (the admin needs one)."""
    client = Client()
    client.force_login(user)
    if twofactor.required(user):
        verify_second_factor(client, user)
    return client


@pytest.fixture
def world(st_marys: Any, integrex: Any, smart: Any, payer: Any, encounter: Any,
          alice: Any, ada: Any) -> dict[str, Any]:
    return {"clients": [_signed_in(alice), _signed_in(ada)]}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.url)
def test_no_crafted_parameter_gives_a_server_error(world: Any, route: Route) -> None:
    @FUZZ
    @given(client=st.sampled_from(world["clients"]), pk=st.sampled_from(["1", *BIG[:4]]),
           query=params, form=params, htmx=st.booleans())
    def check(client: Client, pk: str, query: dict[str, list[str]],
              form: dict[str, list[str]], htmx: bool) -> None:
        url = _path(route, pk)
        headers = {"HX-Request": "true"} if htmx else {}
        for method in ("get", "post"):
            data = query if method == "get" else form
            response = getattr(client, method)(url, data, headers=headers)
            if response.streaming:
                b"".join(response.streaming_content)  # an export fails while streaming
            assert response.status_code < 500, (method, url, data, response.status_code)

    # Nothing leaves the machine: an unexpected call fails as a network error would.
    with responses.RequestsMock(assert_all_requests_are_fired=False), \
            mock.patch("revcycle.engine.kick"):
        check()
