"""`runserver` as whitenoise wraps it, refusing any address but loopback while DEBUG is on
(sandbox/loopback.py). The sandbox app is listed before whitenoise's in INSTALLED_APPS so
this command is the one Django picks."""

from __future__ import annotations

from typing import Any

from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as WhitenoiseRunserver,
)

from sandbox.loopback import refuse_public_address_with_debug


class Command(WhitenoiseRunserver):
    def run(self, **options: Any) -> None:
        # handle() has parsed addrport into self.addr by now; "0" means 0.0.0.0.
        refuse_public_address_with_debug(self.addr)
        super().run(**options)
