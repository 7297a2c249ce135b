"""The HTTP layer: retries only where safe, 429 handed back, readable errors."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
import urllib3.util.retry
from django.conf import settings

from revcycle import api, errors
from revcycle.models import Connection

URL = "https://payer.test/api/claims"


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_error_on_get_is_retried(mocked: Any, payer: Connection, status: int) -> None:
    call = mocked.get(URL, status=status, json={"message": "busy"})
    mocked.get(URL, json={"claims": []})
    assert api.call(payer, "GET", "claims").data == {"claims": []}
    assert len(mocked.calls) == 2
    assert len(call.calls) == 1


def test_a_500_on_get_is_not_retried(mocked: Any, payer: Connection) -> None:
    mocked.get(URL, status=500, json={"message": "bug"})
    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")
    assert len(mocked.calls) == 1 and caught.value.status == 500


def test_a_post_is_never_retried_on_503(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, status=503, json={"message": "busy"})
    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})
    assert len(mocked.calls) == 1
    assert caught.value.status == 503
    assert "busy" in caught.value.message


def test_429_raises_rate_limited_with_retry_after_in_seconds(mocked: Any,
                                                            payer: Connection) -> None:
    mocked.get(URL, status=429, headers={"Retry-After": "30"}, json={})
    with pytest.raises(errors.RateLimited) as caught:
        api.call(payer, "GET", "claims")
    assert caught.value.retry_after == 30
    # Handed back at once: the engine slows the connection, no worker sleeps 30 s.
    assert len(mocked.calls) == 1


def test_429_reads_retry_after_as_an_http_date(mocked: Any, payer: Connection) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    mocked.get(URL, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(errors.RateLimited) as caught:
        api.call(payer, "GET", "claims")
    assert 100 < caught.value.retry_after <= 120


def test_a_long_retry_after_on_503_is_handed_back_not_slept(mocked: Any,
                                                            payer: Connection) -> None:
    mocked.get(URL, status=503, headers={"Retry-After": "3600"}, json={})
    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")
    assert caught.value.retry_after > 3000


def test_an_html_error_page_gives_a_message_without_the_html(mocked: Any,
                                                             payer: Connection) -> None:
    mocked.get(URL, status=500, content_type="text/html",
               body="<html><body><h1>Internal Server Error</h1><p>stack trace</p></body></html>")
    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")
    assert "500" in caught.value.message
    assert "<" not in caught.value.message and "stack trace" not in caught.value.message


def test_a_json_error_gives_the_server_message(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, status=400, json={"message": "invoiceNumber is required"})
    with pytest.raises(errors.BadRequest) as caught:
        api.call(payer, "POST", "claims", json={})
    assert caught.value.message == "invoiceNumber is required"
    assert caught.value.body == {"message": "invoiceNumber is required"}


def test_a_read_timeout_on_post_is_an_unknown_outcome(mocked: Any, payer: Connection) -> None:
    mocked.post(URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(errors.UnknownOutcome):
        api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})
    assert len(mocked.calls) == 1


def test_a_refused_connection_on_get_is_unavailable(mocked: Any, payer: Connection) -> None:
    mocked.get(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(errors.Unavailable):
        api.call(payer, "GET", "claims")


def test_requests_name_revcycle_and_carry_the_payer_headers(mocked: Any,
                                                            payer: Connection) -> None:
    call = mocked.get(URL, json={})
    api.call(payer, "GET", "claims", params={"status": "open"})
    sent = call.calls[0].request
    assert "revcycle" in sent.headers["User-Agent"]
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["X-API-Key"] == "payer-key"
    assert sent.headers["X-Provider-ID"] == "PROV-001"
    assert "Authorization" not in sent.headers
    assert sent.url.endswith("?status=open")


@pytest.mark.parametrize("status,error", [
    (402, errors.AuthenticationFailed), (403, errors.AuthenticationFailed),
    (404, errors.NotFound), (409, errors.Conflict), (410, errors.Conflict),
    (422, errors.BadRequest),
])
def test_each_status_raises_its_error(mocked: Any, payer: Connection, status: int,
                                      error: type[errors.ApiError]) -> None:
    mocked.get(URL, status=status, json={"message": "no"})
    with pytest.raises(error) as caught:
        api.call(payer, "GET", "claims")
    assert caught.value.status == status


def test_the_http_layer_sleeps_a_few_seconds_at_most_for_retry_after() -> None:
    from urllib3.response import HTTPResponse

    retry = api._session().get_adapter(URL).max_retries
    answer = HTTPResponse(status=503, headers={"Retry-After": "3600"})
    assert retry.get_retry_after(answer) <= 5
    assert retry.is_retry("GET", 503, has_retry_after=True)
    assert not retry.is_retry("GET", 429, has_retry_after=True)
    assert not retry.is_retry("POST", 503, has_retry_after=True)


def test_requests_reads_the_environment_only_when_a_proxy_bundle_or_netrc_is_set(
        monkeypatch: Any, tmp_path: Any) -> None:
    # trust_env makes requests look up proxies and ~/.netrc for every call (7% of the
    # engine's CPU): off when there is nothing to find, on as soon as there is.
    from revcycle import http

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", *http.ENVIRONMENT_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert http.mount_retries(requests.Session()).trust_env is False
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert http.mount_retries(requests.Session()).trust_env is True
    monkeypatch.delenv("HTTPS_PROXY")
    (tmp_path / ".netrc").write_text("machine api.example login a password b\n")
    assert http.mount_retries(requests.Session()).trust_env is True


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next status of `script` (a real socket, so urllib3's
    own retries and sleeps run, which responses does not exercise)."""

    script: list[tuple[int, dict[str, str]]]
    hits: list[str]

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).hits.append(self.command)
        status, headers = type(self).script.pop(0) if type(self).script else (200, {})
        body = b'{"message": "busy"}' if status >= 400 else b'{"ok": true}'
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted(payer: Connection, monkeypatch: Any) -> Iterator[tuple[type[_Scripted], list[float]]]:
    """The payer connection pointed at a scripted server; urllib3's sleeps are recorded, not
    slept, and its backoff jitter is at its top (random() = 1.0)."""
    handler = type("Handler", (_Scripted,), {"script": [], "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Connection.objects.filter(pk=payer.pk).update(
        base_url=f"http://127.0.0.1:{server.server_address[1]}/api")
    payer.refresh_from_db()
    slept: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", slept.append)
    monkeypatch.setattr(urllib3.util.retry.random, "random", lambda: 1.0)
    yield handler, slept
    server.shutdown()
    server.server_close()


def test_a_get_answering_503_is_sent_http_retries_plus_one_times_with_growing_backoff(
        payer: Connection, scripted: tuple[type[_Scripted], list[float]]) -> None:
    handler, slept = scripted
    handler.script = [(503, {})] * 5
    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")
    # The last 503 is handed back as the service's answer, not as a RetryError.
    assert caught.value.status == 503 and caught.value.message.endswith("(503): busy")
    assert handler.hits == ["GET"] * (settings.HTTP_RETRIES + 1)
    # urllib3: no wait before the first retry, then 0.5 s * 2 plus the 0.25 s jitter.
    assert slept == [0.5 * 2 + 0.25]


def test_a_503_retry_after_is_slept_before_the_retry(
        payer: Connection, scripted: tuple[type[_Scripted], list[float]]) -> None:
    handler, slept = scripted
    handler.script = [(503, {"Retry-After": "2"})]
    assert api.call(payer, "GET", "claims").data == {"ok": True}
    assert handler.hits == ["GET", "GET"] and slept == [2.0]


def test_a_post_answering_503_over_a_real_socket_is_sent_once(
        payer: Connection, scripted: tuple[type[_Scripted], list[float]]) -> None:
    handler, slept = scripted
    handler.script = [(503, {})]
    with pytest.raises(errors.Unavailable):
        api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})
    assert handler.hits == ["POST"] and slept == []


def test_a_refused_connection_on_get_is_tried_again_http_retries_times(
        payer: Connection, scripted: tuple[type[_Scripted], list[float]]) -> None:
    """Nothing was sent when the connection is refused, so even the first try is safe to
    repeat; the backoff between the tries is urllib3's."""
    _, slept = scripted
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port of ours that nothing listens on
    port = closed.getsockname()[1]
    closed.close()
    Connection.objects.filter(pk=payer.pk).update(base_url=f"http://127.0.0.1:{port}/api")
    payer.refresh_from_db()
    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")
    assert caught.value.message == "Could not reach the service (connection error)."
    assert slept == [0.5 * 2 + 0.25]  # a sleep before the second retry: three tries


def test_every_engine_thread_keeps_its_own_pooled_connection() -> None:
    """One session serves every thread of a connection: its pool must hold a connection per
    engine thread, or each call past the pool's size opens a new one."""
    from revcycle import http as revcycle_http

    session = revcycle_http.mount_retries(requests.Session())
    adapter = session.get_adapter("https://payer.test/")
    assert session.get_adapter("http://payer.test/") is adapter
    assert adapter.poolmanager.connection_pool_kw["maxsize"] >= settings.ENGINE_THREADS
