"""`manage.py user add`: staff accounts by script, the password from standard input."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from revcycle.management.commands.user import Command
from revcycle.roles import role_names

GOOD = "a-long-enough-passphrase-42"


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    call_command("user", *args, stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def test_add_creates_a_biller_of_a_facility_with_the_password_from_stdin(st_marys: Any) -> None:
    output = run("add", "carol", "--role", "biller", "--facility", st_marys.npi,
                 stdin=GOOD + "\n")
    assert "Created carol (biller; St. Mary's Hospital)" in output
    user = User.objects.get(username="carol")
    assert user.check_password(GOOD)
    assert role_names(user) == {"biller"} and not user.is_staff
    assert list(user.facilities.all()) == [st_marys]


def test_an_admin_may_use_the_admin_site(db: Any) -> None:
    run("add", "root2", "--role", "admin", stdin=GOOD + "\n")
    user = User.objects.get(username="root2")
    assert user.is_staff and role_names(user) == {"admin"}


def test_add_again_changes_role_facilities_and_password(alice: Any, lakeside: Any) -> None:
    run("add", "alice", "--role", "manager", "--facility", lakeside.npi,
        stdin="another-long-passphrase-7\n")
    user = User.objects.get(username="alice")
    assert role_names(user) == {"manager"}
    assert list(user.facilities.all()) == [lakeside]
    assert user.check_password("another-long-passphrase-7")


@pytest.mark.parametrize("stdin,message", [
    ("", "got 0 lines"),
    (f"{GOOD}\nsecond line\n", "got 2 lines"),
    ("short\n", "password refused"),
])
def test_a_missing_or_weak_password_creates_no_user(db: Any, stdin: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("add", "carol", "--role", "biller", stdin=stdin)
    assert not User.objects.filter(username="carol").exists()


def test_the_password_cannot_be_given_on_the_command_line() -> None:
    parser = Command().create_parser("manage.py", "user")
    options = {o for a in parser._subparsers._group_actions[0].choices["add"]._actions
               for o in a.option_strings}
    assert "--role" in options
    assert not {o for o in options if "pass" in o}
