"""A connection that drops after a POST was sent is an unknown outcome: the service may
have acted, so the HTTP layer never sends it again on its own (docs/pitfalls.md, "HTTP").

The drop is real: a server in a thread reads the request and closes the socket without
answering, so urllib3's own retry rules are exercised, not only our error mapping."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from revcycle import api, errors
from revcycle.models import Connection


class _Hangup(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def _drop(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)  # the whole request arrived: the service could act on it
        type(self).hits.append(self.command)
        self.close_connection = True  # and no answer comes back

    do_POST = do_GET = _drop

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def hangup_server() -> Iterator[tuple[str, list[str]]]:
    _Hangup.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hangup)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", _Hangup.hits
    server.shutdown()
    server.server_close()


def test_a_dropped_connection_on_post_is_unknown_and_sent_only_once(
        payer: Connection, hangup_server: tuple[str, list[str]]) -> None:
    url, hits = hangup_server
    Connection.objects.filter(pk=payer.pk).update(base_url=url)
    payer.refresh_from_db()

    with pytest.raises(errors.UnknownOutcome):
        api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})

    assert hits == ["POST"]


def test_a_dropped_connection_on_get_is_unavailable_so_the_engine_retries_it(
        payer: Connection, hangup_server: tuple[str, list[str]]) -> None:
    # The other side of the same rule: a GET is safe to repeat, later, by the engine.
    url, hits = hangup_server
    Connection.objects.filter(pk=payer.pk).update(base_url=url)
    payer.refresh_from_db()

    with pytest.raises(errors.Unavailable) as caught:
        api.call(payer, "GET", "claims")

    assert not isinstance(caught.value, errors.UnknownOutcome)
    assert hits == ["GET"]  # read=0: not even a GET is re-sent at once by urllib3


def test_a_connection_error_on_post_is_an_unknown_outcome(payer: Connection) -> None:
    with responses.RequestsMock() as mocked:
        mocked.post("https://payer.test/api/claims",
                    body=requests.ConnectionError("Connection aborted: RemoteDisconnected"))
        with pytest.raises(errors.UnknownOutcome):
            api.call(payer, "POST", "claims", json={"invoiceNumber": "INV-1"})
        assert len(mocked.calls) == 1
