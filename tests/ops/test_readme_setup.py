"""The README's scripted set-up does what it says when run as written."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command

from revcycle.models import Connection, Facility

README = Path(__file__).resolve().parents[2] / "README.md"
VALUES = {
    "ADMIN_PASSWORD": "it-admin-long-passphrase-1",
    "BILLER_PASSWORD": "biller-long-passphrase-2",
    "INTEGREX_SECRET": "integrex-secret-from-the-vault",
    "INTEGREX_URL": "https://integrex.test/api/v2",
    "INTEGREX_CLIENT_ID": "MYCLIENT",
    "SMART_SECRET": "smart-secret",
    "SMART_PASSWORD": "smart-password",
}


def shell_blocks(heading: str) -> list[str]:
    text = README.read_text()
    section = text[text.index(heading):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def commands(block: str) -> list[str]:
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def run_manage(line: str) -> None:
    """Run `[printf ... |] python manage.py CMD ...` in-process, stdin from the printf."""
    expanded = re.sub(r"\$(\w+)", lambda m: VALUES.get(m.group(1), m.group(0)), line)
    stdin = ""
    if "|" in expanded:
        producer, expanded = expanded.split("|", 1)
        words = shlex.split(producer)
        assert words[0] == "printf"
        stdin = words[1].replace("\\n", "\n") % tuple(words[2:])
    words = shlex.split(expanded)
    assert words[:2] == ["python", "manage.py"], line
    extra = {"stdin": io.StringIO(stdin)} if words[2] not in ("facility", "smart_facility") else {}
    call_command(*words[2:], stdout=io.StringIO(), **extra)


def test_the_scripted_set_up_creates_facility_users_and_a_connection_with_its_secret(
        db: Any) -> None:
    ran = []
    for line in commands(shell_blocks("## Scripted set-up")[0]):
        # migrate was done by the test database; test and run_batch need the service.
        if re.search(r"manage\.py ((facility|user|connection) add|smart_facility)", line):
            run_manage(line)
            ran.append(line.split("manage.py ")[1].split()[0])
    assert ran == ["facility", "smart_facility", "user", "user", "connection"]
    facility = Facility.objects.get(npi="1083052872")
    smart = facility.smart_settings
    assert smart.manages_copay and smart.provider_key == "SKSP_6122"
    assert User.objects.get(username="it-admin").check_password(VALUES["ADMIN_PASSWORD"])
    jdoe = User.objects.get(username="jdoe")
    assert jdoe.check_password(VALUES["BILLER_PASSWORD"])
    assert list(jdoe.facilities.all()) == [facility]
    conn = Connection.objects.get(name="Integrex")
    assert conn.client_secret == VALUES["INTEGREX_SECRET"]
    assert (conn.client_id, conn.environment) == ("MYCLIENT", "T")
    assert list(conn.facilities.all()) == [facility]


def test_the_connection_examples_store_their_secrets(st_marys: Any) -> None:
    for line in commands(shell_blocks("## Connections")[0]):
        if "connection add" in line:
            run_manage(line)
    assert Connection.objects.get(name="Integrex").client_secret == VALUES["INTEGREX_SECRET"]
    smart = Connection.objects.get(name="Smart")
    assert (smart.client_secret, smart.password) == (VALUES["SMART_SECRET"],
                                                     VALUES["SMART_PASSWORD"])
