"""Two worker PROCESSES that need a token at once make one token request: the refresh lease
on the token row (revcycle/oauth.py) works across processes, not only threads.

The token endpoint is a tiny http.server in a thread of this test process (responses does
not cross a fork), counting the requests it gets. The first request is held until the
second process is seen waiting on the lease (or, when the lease is broken, until a second
token request arrives), so the two processes overlap on every run without any sleep."""

from __future__ import annotations

import http.server
import json
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from revcycle import oauth
from revcycle.models import Connection, OAuthToken

pytestmark = pytest.mark.django_db(transaction=True)
CONDITION_TIMEOUT = 60  # seconds; only reached when the test is failing


class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    hits: list[str]
    release: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).hits.append(self.path)
        if len(type(self).hits) > 1:
            type(self).release.set()  # a second request: the lease failed, answer both
        type(self).release.wait(CONDITION_TIMEOUT)
        body = json.dumps({"access_token": f"token-{len(type(self).hits)}",
                           "token_type": "bearer", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[tuple[str, type[_TokenEndpoint]]]:
    handler = type("Endpoint", (_TokenEndpoint,), {"hits": [], "release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def _worker(connection_id: int, waiting: Any, results: Any) -> None:
    """One worker process: a fresh database connection, an empty token cache."""
    connections.close_all()
    oauth._cache.clear()
    real_sleep = oauth.time.sleep

    def sleep(seconds: float) -> None:  # only reached while another process holds the lease
        waiting.set()
        real_sleep(seconds)

    oauth.time.sleep = sleep
    try:
        results.put(oauth.access_token(Connection.objects.get(pk=connection_id)))
    except Exception as exc:  # noqa: BLE001 - reported to the test process
        results.put(f"error: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


def test_two_processes_needing_a_token_at_once_make_one_token_request(
        st_marys: Any, token_endpoint: tuple[str, type[_TokenEndpoint]]) -> None:
    base_url, endpoint = token_endpoint
    conn = Connection.objects.create(kind="integrex", name="Integrex", base_url=base_url,
                                     client_id="c", client_secret="s", token_path="auth")
    context = multiprocessing.get_context("fork")
    waiting, results = context.Event(), context.Queue()
    connections.close_all()  # never share a database connection across fork
    workers = [context.Process(target=_worker, args=(conn.pk, waiting, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()

    # Answer the first token request once the other process waits on the lease.
    if waiting.wait(CONDITION_TIMEOUT):
        endpoint.release.set()
    tokens = [results.get(timeout=CONDITION_TIMEOUT) for _ in workers]
    for worker in workers:
        worker.join(CONDITION_TIMEOUT)

    assert endpoint.hits == ["/auth"]
    assert tokens == ["token-1", "token-1"]
    assert OAuthToken.objects.get(connection=conn).requests_made == 1
