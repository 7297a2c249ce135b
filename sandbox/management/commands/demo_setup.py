"""Set up the demo: users (one per role), facilities, demo encounters, and connections to
the sandbox in environment T. Idempotent: run it again and nothing is duplicated; passwords
are printed only when a user is created (or with --reset-passwords)."""

from __future__ import annotations

import csv
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from revcycle import twofactor
from revcycle.models import Connection, Encounter, Facility
from smartlink.models import SmartFacility

DEMO_USERS = [
    ("biller", "Billie", "Biller", "biller"),
    ("manager", "Morgan", "Manager", "manager"),
    ("admin", "Ada", "Admin", "admin"),
]


class Command(BaseCommand):
    help = "Create demo users, facilities, encounters and sandbox connections (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000,
                            help="Where the app (and its sandbox) will be served.")
        parser.add_argument("--reset-passwords", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The demo needs the sandbox: set SANDBOX_ENABLED=1.")
        from sandbox import demo_data
        from sandbox.payer import register_webhook

        base = f"http://127.0.0.1:{options['port']}"
        with transaction.atomic():
            st_marys, lakeside = self._facilities(demo_data.PROVIDER)
            created = self._users(st_marys, lakeside, options["reset_passwords"])
            count = self._encounters(st_marys, demo_data.DEMO_PATIENTS)
            connections = self._connections(base, st_marys, lakeside)
        payer = connections["payer"]
        register_webhook(payer.provider_id, f"{base}/claims/payer/webhooks/{payer.pk}/",
                         payer.webhook_secret)
        demo_data.seed_sandbox()
        files = self._demo_files(demo_data)
        self.stdout.write(self.style.SUCCESS(
            f"Demo ready: {count} encounters, connections "
            f"{', '.join(c.name for c in connections.values())} (environment T)."))
        for path in files:
            self.stdout.write(f"  sample batch file: {path}")
        if created:
            self.stdout.write(self.style.WARNING(
                "Demo users (passwords are shown only now; rerun with --reset-passwords):"))
            for username, role, password in created:
                self.stdout.write(f"  {username:<8} role {role:<8} password {password}")
        else:
            self.stdout.write("Demo users exist already (use --reset-passwords for new ones).")
        # The manager and the admin need a second factor: their authenticator and codes.
        self.stdout.write("\n".join(twofactor.demo_setup_lines([u[0] for u in DEMO_USERS])))

    def _facilities(self, provider: dict[str, str]) -> tuple[Facility, Facility]:
        st_marys, _ = Facility.objects.update_or_create(
            npi=provider["provider_npi"],
            defaults={"name": provider["provider_name"], "tax_id": provider["tax_id"],
                      "address": "2825 Capitol Ave, Sacramento, CA 95816"},
        )
        SmartFacility.objects.update_or_create(
            facility=st_marys, defaults={"provider_key": "SKSP_6122", "manages_copay": True,
                                         "late_diagnosis": True})
        lakeside, _ = Facility.objects.update_or_create(
            npi="1234567893", defaults={"name": "Lakeside Clinic", "tax_id": "111223333",
                                        "address": "12 Lake Rd, Nakuru, Kenya"})
        return st_marys, lakeside

    def _users(self, st_marys: Facility, lakeside: Facility, reset: bool) -> list[tuple]:
        created = []
        for username, first, last, role in DEMO_USERS:
            user, is_new = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last,
                                             "email": f"{username}@revcycle.example"})
            user.groups.set([Group.objects.get(name=role)])
            user.is_staff = role == "admin"
            if is_new or reset:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                created.append((username, role, password))
            user.save()
            # The biller works for St. Mary's only: Lakeside's patients stay out of sight.
            st_marys.members.add(user)
            if role != "biller":
                lakeside.members.add(user)
        return created

    def _encounters(self, facility: Facility, patients: list[dict[str, Any]]) -> int:
        for p in patients:
            Encounter.objects.update_or_create(
                facility=facility, account_number=p["account_number"],
                defaults={
                    "account_number2": p["account_number2"],
                    "smart_patient_number": p["smart_patient_number"],
                    "patient_first_name": p["first_name"], "patient_last_name": p["last_name"],
                    "patient_dob": p["dob"], "patient_gender": p["gender"],
                    "patient_ssn": p["ssn"], "patient_address": p["address"],
                    "subscriber_id": p["member_id"], "subscriber_first_name": p["first_name"],
                    "subscriber_last_name": p["last_name"], "subscriber_dob": p["dob"],
                    "subscriber_gender": p["gender"],
                    "provider_npi": p["provider_npi"], "provider_name": p["provider_name"],
                    "tax_id": p["tax_id"], "payer_id": p["payer_id"],
                    "payer_name": p["payer_name"], "service_date_from": p["date_of_service"],
                    "total_charges": Decimal(p["total_charges"]),
                },
            )
        return len(patients)

    def _connections(self, base: str, *facilities: Facility) -> dict[str, Connection]:
        from sandbox.credentials import integrex_client, smart_client, smart_user

        integrex_id, integrex_secret = integrex_client()
        smart_id, smart_secret = smart_client()
        smart_username, smart_password = smart_user()
        specs = {
            "integrex": ("Integrex sandbox", {
                "base_url": f"{base}/sandbox/integrex/api/v2", "health_check_path": "health",
                "client_id": integrex_id, "client_secret": integrex_secret,
                "poll_interval_seconds": 15}),
            "smart": ("Smart sandbox", {
                "base_url": f"{base}/sandbox/smart", "client_id": smart_id,
                "client_secret": smart_secret, "username": smart_username,
                "password": smart_password, "poll_interval_seconds": 15}),
            "payer": ("HCMS payer sandbox", {
                "base_url": f"{base}/sandbox/payer/api", "api_key": "demo-provider-key",
                "provider_id": "PROV-001", "poll_interval_seconds": 30}),
        }
        connections = {}
        for kind, (name, values) in specs.items():
            connection = Connection.objects.filter(name=name).first()
            if connection is None:
                connection = Connection(name=name, kind=kind, environment="T")
                if kind == "payer":
                    connection.webhook_secret = secrets.token_urlsafe(32)
            for field, value in values.items():
                setattr(connection, field, value)
            connection.flagged_at, connection.flagged_reason = None, ""
            connection.save()
            connection.facilities.add(*facilities)
            connections[kind] = connection
        return connections

    def _demo_files(self, demo_data: Any) -> list[Path]:
        folder = Path(settings.VAR_DIR) / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for name, builder in (("claim-status-demo.csv", demo_data.claim_status_request),
                              ("discovery-demo.csv", demo_data.discovery_request)):
            rows = [builder(p) for p in demo_data.DEMO_PATIENTS]
            path = folder / name
            with open(path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            files.append(path)
        return files
