"""How the HTTP layer reads a service's answer: Retry-After, the server's own message, and
one pooled session per thread (written from `make mutants`' survivors in revcycle/http.py
and revcycle/api.py)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from urllib3.response import HTTPResponse

from revcycle import api, errors, http, metrics
from revcycle.models import Connection

URL = "https://payer.test/api/claims"


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _rate_limited(mocked: Any, payer: Connection, retry_after: str) -> errors.RateLimited:
    mocked.get(URL, status=429, headers={"Retry-After": retry_after}, json={})
    with pytest.raises(errors.RateLimited) as caught:
        api.call(payer, "GET", "claims")
    return caught.value


def test_a_retry_after_of_zero_seconds_retries_at_once(mocked: Any, payer: Connection) -> None:
    assert _rate_limited(mocked, payer, "0").retry_after == 0


def test_a_retry_after_date_already_past_retries_at_once(mocked: Any,
                                                         payer: Connection) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    assert _rate_limited(mocked, payer, past).retry_after == 0


def test_an_unreadable_retry_after_is_ignored(mocked: Any, payer: Connection) -> None:
    assert _rate_limited(mocked, payer, "soon").retry_after is None


def test_a_503_without_retry_after_leaves_the_backoff_to_urllib3() -> None:
    retry = http.mount_retries(requests.Session()).get_adapter(URL).max_retries
    assert retry.get_retry_after(HTTPResponse(status=503)) is None
    assert retry.get_retry_after(HTTPResponse(status=503, headers={"Retry-After": "2"})) == 2


@pytest.mark.parametrize("body,message", [
    ({"error": "invalid_grant", "error_description": "The refresh token expired"},
     "The refresh token expired"),
    ({"error": "invalid_grant", "message": "ignored"}, "invalid_grant"),
    ({"message": "invoiceNumber is required", "detail": "ignored"}, "invoiceNumber is required"),
    ({"detail": "Member not found", "Message": "ignored"}, "Member not found"),
    ({"Message": "The request is invalid.", "errors": ["ignored"]}, "The request is invalid."),
    ({"errors": [{"field": "dob"}]}, '[{"field": "dob"}]'),
    ({"error": "", "message": "the first non-empty key wins"}, "the first non-empty key wins"),
    ("plain words", "plain words"),
], ids=["error_description", "error", "message", "detail", "Message", "errors", "empty-skipped",
        "text"])
def test_a_refusal_shows_the_message_the_service_gave(mocked: Any, payer: Connection,
                                                      body: Any, message: str) -> None:
    mocked.post(URL, status=400, json=body)
    with pytest.raises(errors.BadRequest) as caught:
        api.call(payer, "POST", "claims", json={})
    assert caught.value.message == message


def test_a_long_error_list_is_cut_to_500_characters(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, status=400, json={"errors": ["x" * 50] * 40})
    with pytest.raises(errors.BadRequest) as caught:
        api.call(payer, "POST", "claims", json={})
    assert caught.value.message.startswith('["xxx') and len(caught.value.message) == 500


def test_an_error_page_that_is_not_json_says_so(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, status=400, content_type="text/html", body="<html>Bad Request</html>")
    with pytest.raises(errors.BadRequest) as caught:
        api.call(payer, "POST", "claims", json={})
    service = payer.get_kind_display()
    assert caught.value.message == (
        f"{service} answered HTTP 400. (the service answered with a page, not JSON)")


def _in_a_new_thread(make: Callable[[], requests.Session]) -> list[requests.Session]:
    """The sessions a fresh thread gets from two calls (a thread has no session yet)."""
    got: list[requests.Session] = []
    thread = threading.Thread(target=lambda: got.extend([make(), make()]))
    thread.start()
    thread.join()
    return got


@pytest.mark.parametrize("make", [http.plain_session, api._session], ids=["plain", "api"])
def test_each_thread_keeps_one_session_with_retries_and_our_user_agent(
        make: Callable[[], requests.Session]) -> None:
    first, second = _in_a_new_thread(make)
    assert first is second  # its connection pool is reused, call after call
    assert first.headers["User-Agent"] == http.USER_AGENT
    assert first.get_adapter(URL).max_retries.status_forcelist == (502, 503, 504)
    assert first not in _in_a_new_thread(make)  # requests' Session is not thread-safe


def test_a_long_page_is_kept_to_2000_characters(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, status=400, content_type="text/html", body="x" * 3000)
    with pytest.raises(errors.BadRequest) as caught:
        api.call(payer, "POST", "claims", json={})
    assert caught.value.body == {"_unparsed": "x" * 2000}


def test_a_long_text_message_is_cut_to_500_characters(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, status=400, json="y" * 600)
    with pytest.raises(errors.BadRequest) as caught:
        api.call(payer, "POST", "claims", json={})
    assert caught.value.message == "y" * 500


def test_a_post_sends_its_json_body(mocked: Any, payer: Connection) -> None:
    call = mocked.post(URL, json={"ok": True})
    api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1", "amount": "12.50"})
    assert json.loads(call.calls[0].request.body) == {"invoiceNumber": "INV-1",
                                                      "amount": "12.50"}


@pytest.mark.parametrize("answer,errors_counted", [
    (dict(status=200, json={}), 0), (dict(status=404, json={}), 0),
    (dict(status=402, json={}), 1), (dict(status=500, json={}), 1),
    (dict(body=requests.ConnectionError("refused")), 1),
], ids=["200", "404", "402", "500", "unreachable"])
def test_each_request_is_counted_for_its_connection_with_its_errors(
        mocked: Any, payer: Connection, answer: dict[str, Any], errors_counted: int,
        monkeypatch: Any) -> None:
    monkeypatch.setattr(metrics, "FLUSH_SECONDS", 3600)  # the counts stay in memory to read
    mocked.post(URL, **answer)
    try:
        api.call(payer, "POST", "claims", json={})
    except errors.ApiError:
        pass
    [(key, counts)] = metrics._pending.items()
    assert key[0] == payer.pk
    assert counts[:2] == [1, errors_counted]  # requests, errors
    assert counts[-1] == 0  # a mocked answer is not slower than the slowest bucket's bound


@pytest.mark.parametrize("status,error,message", [
    (400, errors.BadRequest, "no"),
    (401, errors.Unauthorized, "no"),
    (402, errors.AuthenticationFailed,
     "{service} refused our credentials or our IP address (402): no"),
    (404, errors.NotFound, "no"),
    (409, errors.Conflict, "no"),
    (429, errors.RateLimited, "{service} asked us to slow down (429)."),
    (418, errors.BadRequest, "no"),
])
def test_each_refusal_keeps_its_status_body_and_message(mocked: Any, payer: Connection,
                                                        status: int, error: type[Exception],
                                                        message: str) -> None:
    mocked.get(URL, status=status, json={"message": "no"})
    with pytest.raises(error) as caught:
        api.call(payer, "GET", "claims")
    assert type(caught.value) is error
    assert caught.value.message == message.format(service=payer.get_kind_display())
    assert (caught.value.status, caught.value.body) == (status, {"message": "no"})


def test_every_call_carries_the_connect_and_read_timeouts(mocked: Any,
                                                          payer: Connection) -> None:
    call = mocked.get(URL, json={})
    api.call(payer, "GET", "claims")
    assert call.calls[0].request.req_kwargs["timeout"] == http.timeouts()


@pytest.mark.parametrize("method,failure,error,message", [
    ("GET", requests.ConnectTimeout("slow"), errors.Unavailable,
     "The service did not answer the connection in time."),
    ("POST", requests.ReadTimeout("slow"), errors.UnknownOutcome,
     "The service took too long to answer; it may still have acted on the request."),
    ("GET", requests.ConnectionError("reset"), errors.Unavailable,
     "Could not reach the service (connection error)."),
    ("POST", requests.ConnectionError("reset"), errors.UnknownOutcome,
     "The connection dropped; the service may or may not have received the request."),
    ("GET", requests.TooManyRedirects("loop"), errors.Unavailable,
     "The request failed: TooManyRedirects."),
    ("HEAD", requests.ConnectionError("reset"), errors.Unavailable,
     "Could not reach the service (connection error)."),
    ("get", requests.ConnectionError("reset"), errors.Unavailable,
     "Could not reach the service (connection error)."),
], ids=["connect-timeout", "read-timeout", "get-dropped", "post-dropped", "other",
        "head-dropped", "lower-case-get-dropped"])
def test_a_transport_failure_says_whether_the_service_may_have_acted(
        mocked: Any, payer: Connection, method: str, failure: Exception,
        error: type[Exception], message: str) -> None:
    mocked.add(method.upper(), URL, body=failure)
    with pytest.raises(error) as caught:
        api.call(payer, method, "claims", json={} if method == "POST" else None)
    assert type(caught.value) is error and caught.value.message == message


class _Clock:
    """api.py's view of time.monotonic: each request takes exactly 0.4 s."""

    def __init__(self) -> None:
        self.readings = 0

    def monotonic(self) -> float:
        self.readings += 1
        return 0.0 if self.readings % 2 else 0.4  # sent at 0.0, answered at 0.4


@pytest.mark.parametrize("answer", [dict(json={"ok": True}),
                                    dict(body=requests.ConnectionError("refused"))],
                         ids=["answered", "unreachable"])
def test_each_request_is_timed_into_its_latency_bucket(
        mocked: Any, payer: Connection, answer: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setattr(metrics, "FLUSH_SECONDS", 3600)
    monkeypatch.setattr(api, "time", _Clock())
    mocked.get(URL, **answer)
    try:
        assert api.call(payer, "GET", "claims").elapsed_ms == 400.0
    except errors.Unavailable:
        pass
    [counts] = metrics._pending.values()
    buckets = counts[2:]
    assert buckets[metrics.BOUNDS_MS.index(400)] == 1 and sum(buckets) == 1


def test_each_answer_is_logged_with_its_path_status_time_and_ticket(
        mocked: Any, payer: Connection, monkeypatch: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """The log line names the path without its query (which may hold patient data)."""
    monkeypatch.setattr(api, "time", _Clock())
    caplog.set_level(logging.INFO, logger="revcycle.api")
    mocked.get(URL, json={})
    api.call(payer, "GET", "claims?memberId=M123", ticket_id=7)
    assert [r.getMessage() for r in caplog.records if r.name == "revcycle.api"] == [
        f"GET claims -> 200 in 400 ms (connection {payer.pk}, ticket 7)"]


def test_a_202s_retry_after_reaches_the_caller(mocked: Any, payer: Connection) -> None:
    """The engine's poll waits what a 202 asks (claim status, discovery)."""
    mocked.get(URL, status=202, headers={"Retry-After": "30"}, json={"status": "pending"})
    answer = api.call(payer, "GET", "claims")
    assert (answer.status, answer.retry_after) == (202, 30.0)
    assert answer.headers["Retry-After"] == "30"
