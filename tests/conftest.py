"""The shared cast of users and records for every test.

- alice: a biller at St. Mary's, the person who runs lookups all day.
- bob: a biller at Lakeside only, who must never see St. Mary's patients.
- maya: a manager at St. Mary's: batches and the audit log.
- ada: an admin: connections, environments, Smart activation, every facility.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from revcycle.models import Connection, Encounter, Facility
from smartlink.models import SmartFacility

PASSWORD = "correct-horse-battery-staple"
# A poll as htmx sends it (revcycle/polling.py): the HTMX header and the poll marker.
POLL = {"HTTP_HX_REQUEST": "true", "HTTP_X_POLL": "1"}


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Any:
    """Tokens, code descriptions, request counters, short-lived menus, the engine's
    connections and pooled HTTP sessions live in process memory: each test starts as a new
    process would, and leaves nothing for the next (a session kept from an earlier test
    would hide a broken `mount_retries`)."""
    from django.core.cache import cache

    from revcycle import api, codes, context_processors, http, leasing, metrics, oauth

    def clear() -> None:
        context_processors.clear_stall_cache()
        oauth._cache.clear()
        codes.clear_cache()
        metrics._pending.clear()
        leasing._known.clear()  # the engine's connections, kept while unchanged
        vars(http._local).pop("plain", None)
        vars(api._local).pop("session", None)
        cache.clear()

    clear()
    yield
    clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The cast's passwords are hashed for every test: PBKDF2 would cost seconds each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(username: str, role: str, *facilities: Facility) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    if role == "admin":
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    for facility in facilities:
        facility.members.add(user)
    return user


@pytest.fixture
def st_marys(db: Any) -> Facility:
    facility = Facility.objects.create(name="St. Mary's Hospital", npi="1083052872",
                                       tax_id="999887777")
    SmartFacility.objects.create(facility=facility, provider_key="SKSP_6122")
    return facility


@pytest.fixture
def lakeside(db: Any) -> Facility:
    return Facility.objects.create(name="Lakeside Clinic", npi="1234567893", tax_id="111223333")


@pytest.fixture
def alice(st_marys: Facility) -> User:
    return _user("alice", "biller", st_marys)


@pytest.fixture
def bob(lakeside: Facility) -> User:
    return _user("bob", "biller", lakeside)


@pytest.fixture
def maya(st_marys: Facility) -> User:
    return _user("maya", "manager", st_marys)


@pytest.fixture
def ada(db: Any) -> User:
    return _user("ada", "admin")


@pytest.fixture
def integrex(st_marys: Facility) -> Connection:
    conn = Connection.objects.create(
        kind="integrex", name="Integrex test", base_url="https://integrex.test/api/v2",
        client_id="TestClient", client_secret="s3cret-client", health_check_path="health",
    )
    conn.facilities.add(st_marys)
    return conn


@pytest.fixture
def smart(st_marys: Facility) -> Connection:
    conn = Connection.objects.create(
        kind="smart", name="Smart test", base_url="https://smart.test/providerapi-dev",
        client_id="Himilo_HMIS", client_secret="smart-secret", username="hmis",
        password="hmis-password",
    )
    conn.facilities.add(st_marys)
    return conn


@pytest.fixture
def payer(st_marys: Facility) -> Connection:
    conn = Connection.objects.create(
        kind="payer", name="Payer test", base_url="https://payer.test/api",
        api_key="payer-key", provider_id="PROV-001", webhook_secret="whsec-test",
        poll_interval_seconds=30,
    )
    conn.facilities.add(st_marys)
    return conn


@pytest.fixture
def encounter(st_marys: Facility) -> Encounter:
    return Encounter.objects.create(
        facility=st_marys, account_number="ACC1001", account_number2="ARCDELECH111274",
        patient_first_name="JANE", patient_last_name="DOE", patient_gender="F",
        patient_dob="1970-01-02", patient_ssn="123-45-6789", subscriber_id="A0000000",
        subscriber_first_name="JANE", subscriber_last_name="DOE", subscriber_dob="1970-01-02",
        provider_npi="1083052872", provider_name="St. Mary's Hospital", tax_id="999887777",
        payer_id="AETNA", payer_name="AETNA", service_date_from="2026-10-01",
        total_charges=Decimal("1250.00"),
    )


def totp_now(user: User) -> str:
    """The code the user's authenticator app shows now (a device is made if they have
    none), with the device's replay memory cleared so a test may sign in twice a step."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or \
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def verify_second_factor(client: Any, user: User) -> None:
    """Pass the second factor the way a person does: a TOTP code typed into the form."""
    response = client.post(reverse("twofactor_verify"), {"token": totp_now(user)})
    assert response.status_code == 302, "the second factor was refused"


@pytest.fixture
def client_for(client: Any) -> Any:
    """Log a user in, second factor included for the roles that need one:
    `client_for(alice).get(...)`."""
    from revcycle import twofactor

    def login(user: User) -> Any:
        client.force_login(user)
        if twofactor.required(user):
            verify_second_factor(client, user)
        return client

    return login
