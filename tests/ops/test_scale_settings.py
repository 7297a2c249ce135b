"""The scale-out switches, read in a fresh process as a deployment would: Q_BROKER moves
django-q2's queue to Redis, DATABASE_POOL turns on Django's psycopg connection pool."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.ops.test_two_engines import child_database_url

ROOT = Path(__file__).resolve().parents[2]
PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def run_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A database of its own unless the test names one: these processes only read settings.
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "revcycle.settings", "DEBUG": "1",
                "DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'scale-settings.sqlite3'}", **env}
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60)


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


BROKER = "from django_q.brokers import get_broker; print(type(get_broker()).__name__)"


def test_django_q2_uses_the_database_as_its_broker_by_default() -> None:
    done = run_django(BROKER, Q_BROKER="orm")
    assert done.stdout.strip() == "ORM", done.stderr


def test_q_broker_with_a_redis_url_switches_django_q2_to_redis() -> None:
    done = run_django(BROKER, Q_BROKER="redis://127.0.0.1:6379/15")
    assert done.stdout.strip() == "Redis", done.stderr


def test_a_q_broker_that_is_neither_orm_nor_redis_is_refused() -> None:
    done = run_django("", Q_BROKER="amqp://127.0.0.1")
    assert done.returncode != 0 and "Q_BROKER must be orm or a redis:// URL" in done.stderr


@pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379")
def test_a_task_queued_through_redis_comes_back_out_of_it() -> None:
    code = ("from django_q.brokers import get_broker; import os; "
            "b = get_broker(list_key=f'revcycle-test-{os.getpid()}'); b.enqueue('signed-task'); "
            "got = b.dequeue(); b.delete_queue(); print(got[0][1].decode())")
    done = run_django(code, Q_BROKER="redis://127.0.0.1:6379/15")
    assert done.stdout.strip() == "signed-task", done.stderr


def test_database_pool_turns_on_the_psycopg_pool_sized_by_its_setting() -> None:
    code = ("from django.conf import settings; "
            "print(settings.DATABASES['default']['OPTIONS']['pool']['max_size'])")
    done = run_django(code, DATABASE_URL=PG_URL, DATABASE_POOL="1",
                      DATABASE_POOL_MAX_SIZE="40")
    assert done.stdout.strip() == "40", done.stderr
    off = run_django("from django.conf import settings; "
                     "print('pool' in settings.DATABASES['default'].get('OPTIONS', {}))",
                     DATABASE_URL=PG_URL, DATABASE_POOL="0")
    assert off.stdout.strip() == "False", off.stderr


def test_database_pool_is_refused_on_sqlite() -> None:
    done = run_django("", DATABASE_URL="sqlite:////tmp/revcycle-pool.sqlite3",
                      DATABASE_POOL="1")
    assert done.returncode != 0 and "DATABASE_POOL=1 needs PostgreSQL" in done.stderr


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the pool is PostgreSQL's (set DATABASE_URL=postgres://...)")
def test_a_pooled_connection_answers_queries(db: None) -> None:
    code = ("from django.db import connection; connection.ensure_connection(); "
            "c = connection.cursor(); c.execute('SELECT 41 + 1'); "
            "print(type(connection.pool).__name__, c.fetchone()[0])")
    done = run_django(code, DATABASE_POOL="1", DATABASE_URL=child_database_url())
    assert done.stdout.strip() == "ConnectionPool 42", done.stderr
