"""An SSN reaches a person without the full-SSN permission (billers) only masked: in the
invalid-rows file of a batch, in a form redisplayed after an error, in the admin, and on
every page that shows a patient (issue 14, #3). Managers and admins keep the full number
in files they download."""

from __future__ import annotations

import csv
import io
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from eligibility.batch import SPEC
from revcycle.batches import create_batch
from revcycle.models import Batch, Ticket

SSN = "123-45-6789"
SUBSCRIBER_SSN = "234-56-7890"
# Two rows that are invalid for a reason other than their SSNs (a 13th month).
CSV = f"""patientFirstName,patientLastName,patientDob,SSN,Subscriber SSN,beginDos,Account
JANE,DOE,1970-13-02,{SSN},{SUBSCRIBER_SSN},2026-10-01,ACC1001
JOHN,ROE,1980-05-06,{SSN},,2026-10-02,ACC1002
"""


@pytest.fixture(autouse=True)
def no_kick() -> Any:
    with mock.patch("revcycle.engine.kick"):
        yield


@pytest.fixture
def batch(st_marys: Any, integrex: Any, alice: Any) -> Batch:
    return create_batch(SPEC, facility=st_marys, connection=integrex, user=alice,
                        filename="selfpay.csv", text=CSV)


def _rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_billers_invalid_rows_file_masks_every_ssn(client_for: Any, alice: Any,
                                                     batch: Batch) -> None:
    rows = _rows(client_for(alice).get(f"/eligibility/batches/{batch.pk}/invalid-rows.csv"))

    assert len(rows) == 2 and rows[1][0] == "2"
    assert rows[1][rows[0].index("patientSsn")] == "***-**-6789"
    assert rows[1][rows[0].index("subscriberSsn")] == "***-**-7890"
    assert SSN not in repr(rows) and SUBSCRIBER_SSN not in repr(rows)


def test_a_managers_invalid_rows_file_keeps_the_ssn(client_for: Any, maya: Any,
                                                    batch: Batch) -> None:
    rows = _rows(client_for(maya).get(f"/eligibility/batches/{batch.pk}/invalid-rows.csv"))

    assert rows[1][rows[0].index("patientSsn")] == SSN


def test_run_batch_writes_the_invalid_rows_masked(st_marys: Any, integrex: Any,
                                                  tmp_path: Any) -> None:
    source, errors = tmp_path / "in.csv", tmp_path / "errors.csv"
    source.write_text(CSV)

    with mock.patch("revcycle.management.commands.run_batch.Command._pump",
                    return_value=None), \
            pytest.raises(SystemExit):
        call_command("run_batch", "discovery", str(source), "--out", str(tmp_path / "o.csv"),
                     "--errors-out", str(errors), stderr=io.StringIO())

    text = errors.read_text()
    assert "***-**-6789" in text and SSN not in text and SUBSCRIBER_SSN not in text


def test_a_form_redisplayed_after_an_error_does_not_echo_the_ssn(client_for: Any, alice: Any,
                                                                integrex: Any,
                                                                st_marys: Any) -> None:
    response = client_for(alice).post("/eligibility/new/", {
        "facility": st_marys.pk, "patientFirstName": "JANE", "patientLastName": "DOE",
        "patientDob": "1970-13-02", "patientSsn": SSN, "subscriberSsn": SUBSCRIBER_SSN,
        "beginDos": "2026-10-01", "serviceType": "30"})

    page = response.content.decode()
    assert response.status_code == 200 and Ticket.objects.count() == 0
    assert SSN not in page and "123456789" not in page and SUBSCRIBER_SSN not in page
    assert page.count("Re-enter the SSN") == 2


def test_the_ticket_admin_masks_the_request_for_a_user_without_the_full_ssn_permission(
        client: Any, alice: Any, st_marys: Any, integrex: Any, batch: Batch) -> None:
    # A biller given the admin's view permission on tickets: staff, but no full-SSN role.
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    alice.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    ticket = Ticket.objects.get(batch=batch)
    client.force_login(User.objects.get(pk=alice.pk))

    page = client.get(f"/admin/revcycle/ticket/{ticket.pk}/change/").content.decode()

    assert "patientSsn" in page and "ACC1002" in page
    assert SSN not in page and "patientSsn&quot;: &quot;[redacted]" in page


def test_the_ticket_admin_shows_an_admin_the_request_in_full(client_for: Any, ada: Any,
                                                             batch: Batch) -> None:
    ticket = Ticket.objects.get(batch=batch)

    page = client_for(ada).get(f"/admin/revcycle/ticket/{ticket.pk}/change/").content.decode()

    assert SSN in page


def test_no_page_a_biller_opens_shows_a_full_ssn(client_for: Any, alice: Any, encounter: Any,
                                                 batch: Batch) -> None:
    ticket = Ticket.objects.get(batch=batch)
    pages = ["/", "/encounters/", f"/encounters/{encounter.pk}/", "/eligibility/",
             f"/eligibility/new/?account={encounter.account_number}",
             f"/eligibility/lookups/{ticket.pk}/", f"/eligibility/batches/{batch.pk}/",
             "/eligibility/batches/"]
    client = client_for(alice)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SSN not in response.content.decode(), url
    assert "***-**-6789" in client.get(f"/encounters/{encounter.pk}/").content.decode()
