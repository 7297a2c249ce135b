"""A connection that drops after a POST was sent is an unknown outcome: the service may
have acted, so the HTTP layer never sends it again on its own (docs/pitfalls.md, "HTTP").
A GET whose connection drops is sent once more at once (a kept-alive connection the server
closed as the request left), and a read timeout is never re-sent.

The drop is real: a server in a thread reads the request and closes the socket without
answering, so urllib3's own retry rules are exercised, not only our error mapping."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from revcycle import api, errors
from revcycle.models import Connection


class _Hangup(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []
    answered: set[int] = set()  # which requests (counted from 1) get an answer
    sleep = 0.0  # before answering: longer than the client's read timeout makes one
    protocol_version = "HTTP/1.1"  # keeps an answered connection alive

    def _drop(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)  # the whole request arrived: the service could act on it
        type(self).hits.append(self.command)
        if len(self.hits) not in self.answered:
            self.close_connection = True  # and no answer comes back
            return
        time.sleep(self.sleep)
        body = b'{"status": "Approved"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # a client that timed out has gone
            pass

    do_POST = do_GET = _drop

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def hangup_server() -> Iterator[tuple[str, list[str]]]:
    _Hangup.hits, _Hangup.answered, _Hangup.sleep = [], set(), 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hangup)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", _Hangup.hits
    server.shutdown()
    server.server_close()


def _point_at(payer: Connection, url: str) -> None:
    Connection.objects.filter(pk=payer.pk).update(base_url=url)
    payer.refresh_from_db()


def test_a_dropped_connection_on_post_is_unknown_and_sent_only_once(
        payer: Connection, hangup_server: tuple[str, list[str]]) -> None:
    url, hits = hangup_server
    _point_at(payer, url)

    with pytest.raises(errors.UnknownOutcome):
        api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})

    assert hits == ["POST"]


def test_a_get_dropped_twice_is_unavailable_so_the_engine_retries_it_later(
        payer: Connection, hangup_server: tuple[str, list[str]]) -> None:
    # The other side of the same rule: a GET is safe to repeat, and the engine does, later.
    url, hits = hangup_server
    _point_at(payer, url)

    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")

    assert not isinstance(caught.value, errors.UnknownOutcome)
    assert hits == ["GET", "GET"]  # one immediate re-send, no more (read=0)


def test_a_get_on_a_kept_alive_connection_the_server_closed_is_sent_again_at_once(
        payer: Connection, hangup_server: tuple[str, list[str]]) -> None:
    # The server answers the first GET and keeps its connection; when the second GET
    # arrives on it, the server's idle timer has fired and it closes without answering.
    # The GET goes again at once on a new connection, instead of waiting the engine's
    # 12 to 18 s backoff as Unavailable.
    url, hits = hangup_server
    _point_at(payer, url)
    _Hangup.answered = {1, 3}

    assert api.call(payer, "GET", "claims").data == {"status": "Approved"}
    answer = api.call(payer, "GET", "claims")

    assert answer.data == {"status": "Approved"}
    assert hits == ["GET", "GET", "GET"]


def test_a_post_on_a_kept_alive_connection_the_server_closed_is_not_sent_again(
        payer: Connection, hangup_server: tuple[str, list[str]]) -> None:
    url, hits = hangup_server
    _point_at(payer, url)
    _Hangup.answered = {1, 3}
    api.call(payer, "GET", "claims")

    with pytest.raises(errors.UnknownOutcome):
        api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})

    assert hits == ["GET", "POST"]


def test_a_get_whose_answer_is_late_is_not_sent_again(
        payer: Connection, hangup_server: tuple[str, list[str]],
        settings: Any) -> None:
    # A read timeout is not a drop: the server is working on it, and a re-send would hold
    # the thread for another whole timeout. The engine polls again later.
    settings.HTTP_READ_TIMEOUT = 0.2
    url, hits = hangup_server
    _point_at(payer, url)
    _Hangup.answered, _Hangup.sleep = {1, 2}, 0.6

    with pytest.raises(errors.Unavailable):
        api.call(payer, "GET", "claims")

    assert hits == ["GET"]


def test_a_connection_error_on_post_is_an_unknown_outcome(payer: Connection) -> None:
    with responses.RequestsMock() as mocked:
        mocked.post("https://payer.test/api/claims",
                    body=requests.ConnectionError("Connection aborted: RemoteDisconnected"))
        with pytest.raises(errors.UnknownOutcome):
            api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})
        assert len(mocked.calls) == 1
