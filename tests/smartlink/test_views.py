"""The visit desk: lookup, activation, co-pay, invoice rules, late diagnoses, isolation."""

import json
import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from revcycle.models import AuditEvent, Ticket
from smartlink.models import SmartFacility, SmartInvoice, SmartSession
from tests.conftest import POLL
from tests.smartlink.conftest import BASE, calls_to, invoice_post

MEMBER = {"memberNumber": "SAMPLETEST502", "firstName": "AMINA", "lastName": "OTIENO",
          "benefits": [{"benefitId": 93181, "name": "OUTPATIENT", "balance": 81000.0}]}


def _post_invoice(client, session, benefit_id="93181", **extra):
    """Post the invoice form; a refusal redirects to the visit page, which is read (the
    page a person sees next), while a post that was taken stays its redirect."""
    benefit = session.member.benefits.get(benefit_id=benefit_id)
    response = client.post(f"/smart/sessions/{session.pk}/invoice/",
                           invoice_post(benefit, **extra))
    if response.status_code == 302 and response.url == f"/smart/sessions/{session.pk}/":
        return client.get(response.url)
    return response


def test_a_refused_post_redirects_and_a_reload_does_not_post_again(client_for, alice,
                                                                   active_session):
    client = client_for(alice)
    _post_invoice(client, active_session)
    benefit = active_session.member.benefits.get(benefit_id="93181")
    url = f"/smart/sessions/{active_session.pk}/"

    refused = client.post(f"{url}invoice/", invoice_post(benefit, invoice_number="INV2"))
    assert refused.status_code == 302 and refused.url == url
    page = client.get(url).content.decode()
    assert page.count("already has invoice INV1500835") == 1  # the message, once
    assert 'value="INV2"' in page  # what was typed is still there to correct
    reloaded = client.get(url).content.decode()  # a refresh reads the page again
    assert "already has invoice" not in reloaded and 'value="INV2"' not in reloaded
    assert SmartInvoice.objects.count() == 1


def test_lookup_shows_the_pending_sessions_with_the_time_left(api, client_for, alice, smart):
    opened = timezone.now() - timedelta(hours=3)
    api.add(responses.GET, f"{BASE}/api/visit", json=[{
        "sessionId": 62863, "patientNumber": "23025764", "status": "PENDING",
        "openedAt": opened.isoformat(), "expiresAt": (opened + timedelta(hours=24)).isoformat()}])

    response = client_for(alice).post("/smart/lookup/", {"patient_number": "23025764"},
                                      HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert b"Session 62863" in response.content and b"20 h 59 min left" in response.content
    assert SmartSession.objects.get(session_id="62863").facility.name == "St. Mary's Hospital"


def test_activation_merges_the_session_and_reads_the_benefits(api, client_for, alice, ada,
                                                              session):
    api.add(responses.POST, f"{BASE}/api/visit/62863/visit-number/AKHILS001",
            json={"sessionId": 62863, "status": "ACTIVE"})
    api.add(responses.GET, f"{BASE}/api/member", json=MEMBER)

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "AKHILS001"}, HTTP_HX_REQUEST="true")

    assert response.headers["HX-Redirect"] == f"/smart/sessions/{session.pk}/"
    session.refresh_from_db()
    assert (session.status, session.visit_number, session.activated_by) == (
        "ACTIVE", "AKHILS001", ada)
    assert session.member.benefits.get().balance == 81000
    page = client_for(alice).get(f"/smart/sessions/{session.pk}/")
    assert b"OUTPATIENT" in page.content and b"81,000.00" in page.content


def test_an_expired_session_gets_a_clear_message_and_the_next_step(api, client_for, ada,
                                                                  session):
    api.add(responses.POST, f"{BASE}/api/visit/62863/visit-number/V1", status=410,
            json={"error": "session expired: ask Smart to open a new session"})

    response = client_for(ada).post(f"/smart/sessions/{session.pk}/activate/",
                                      {"visit_number": "V1"}, HTTP_HX_REQUEST="true")

    assert b"Ask Smart to open a new session for patient file 23025764" in response.content
    session.refresh_from_db()
    assert session.status == "EXPIRED" and session.expired_at is not None


def test_the_hospital_enters_the_copay_where_smart_does_not_manage_it(
        api, client_for, alice, active_session):
    response = _post_invoice(client_for(alice), active_session)

    assert response.status_code == 302
    invoice = SmartInvoice.objects.get()
    assert str(invoice.copay_amount) == "200.00" and not invoice.copay_from_smart
    assert str(invoice.total_amount) == "3001.00"
    assert invoice.diagnoses == [{"code": "J06.9", "description": invoice.diagnoses[0][
        "description"]}]
    assert calls_to(api, "api/copayment") == []
    refused = client_for(alice).get(f"/smart/sessions/{active_session.pk}/copay/",
                                    {"benefit": invoice.smart_benefit_id})
    assert b"manages its own co-pays" in refused.content
    assert calls_to(api, "api/copayment") == []


def test_the_copay_comes_from_smart_where_the_facility_lets_it(api, client_for, alice,
                                                              active_session, st_marys):
    SmartFacility.objects.filter(facility=st_marys).update(manages_copay=True)
    api.add(responses.GET, f"{BASE}/api/copayment",
            json={"copayType": "FIXED", "copayAmount": 500.0})

    _post_invoice(client_for(alice), active_session, copay_amount="1")

    invoice = SmartInvoice.objects.get()
    assert str(invoice.copay_amount) == "500.00" and invoice.copay_from_smart
    call = calls_to(api, "api/copayment")[0]
    assert "providerKey=SKSP_6122" in call.request.url
    assert "visitNumber=AKHILS001" in call.request.url


def test_a_second_invoice_on_the_visit_and_benefit_is_refused_without_an_override(
        client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)

    response = _post_invoice(client_for(alice), active_session, invoice_number="INV2",
                             override_reason="billers cannot override")

    assert b"already has invoice INV1500835" in response.content
    assert SmartInvoice.objects.count() == 1


def test_a_manager_overrides_a_duplicate_with_a_reason_and_it_is_audited(
        client_for, alice, maya, active_session):
    _post_invoice(client_for(alice), active_session)
    without_reason = _post_invoice(client_for(maya), active_session, invoice_number="INV2")
    assert b"already has invoice" in without_reason.content

    response = _post_invoice(client_for(maya), active_session, invoice_number="INV2",
                             override_reason="First invoice was for the wrong day")

    assert response.status_code == 302
    second = SmartInvoice.objects.get(invoice_number="INV2")
    assert second.override_reason == "First invoice was for the wrong day"
    assert second.events.filter(action="duplicate override", user=maya).exists()
    assert AuditEvent.objects.filter(action="change", object_id=str(second.pk),
                                     detail__startswith="duplicate override").exists()


def test_a_different_benefit_on_the_same_visit_is_not_a_duplicate(client_for, alice,
                                                                  active_session):
    _post_invoice(client_for(alice), active_session)
    response = _post_invoice(client_for(alice), active_session, benefit_id="93182",
                             invoice_number="INV2")
    assert response.status_code == 302
    assert sorted(SmartInvoice.objects.values_list("invoice_number", "benefit_id")) == [
        ("INV1500835", "93181"), ("INV2", "93182")]
    assert not SmartInvoice.objects.get(invoice_number="INV2").override_reason


@pytest.mark.parametrize("state", ["unknown", "queued", "pending", "cancelled"])
def test_an_invoice_in_doubt_blocks_a_second_invoice_on_the_visit_and_benefit(
        client_for, alice, maya, active_session, state):
    _post_invoice(client_for(alice), active_session)
    SmartInvoice.objects.update(status=state)  # "unknown": the post timed out or dropped

    refused = _post_invoice(client_for(alice), active_session, invoice_number="INV2")

    assert b"already has invoice INV1500835" in refused.content
    assert SmartInvoice.objects.count() == 1
    allowed = _post_invoice(client_for(maya), active_session, invoice_number="INV2",
                            override_reason="Smart confirmed by phone it has no INV1500835")
    assert allowed.status_code == 302
    assert SmartInvoice.objects.get(invoice_number="INV2").override_reason.startswith("Smart")


def test_only_a_definitely_refused_invoice_frees_its_visit_and_benefit(
        client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)
    SmartInvoice.objects.update(status="refused")

    _post_invoice(client_for(alice), active_session, invoice_number="INV2")

    assert SmartInvoice.objects.filter(invoice_number="INV2").exists()


def test_an_invoice_without_a_diagnosis_is_refused_before_anything_is_sent(
        api, client_for, alice, active_session):
    response = _post_invoice(client_for(alice), active_session, **{"dx-0-code": ""})

    assert b"Add the diagnosis" in response.content
    assert not SmartInvoice.objects.exists() and not Ticket.objects.exists()
    assert [c for c in api.calls if "/api/" in c.request.url] == []


def test_the_copay_is_asked_once_when_the_page_opens_and_its_answer_cannot_ask_again(
        api, client_for, alice, active_session, st_marys):
    SmartFacility.objects.filter(facility=st_marys).update(manages_copay=True)
    api.add(responses.GET, f"{BASE}/api/copayment",
            json={"copayType": "FIXED", "copayAmount": "500.00"})
    c = client_for(alice)
    benefit = active_session.member.benefits.get(benefit_id="93181")

    page = c.get(f"/smart/sessions/{active_session.pk}/")
    html = page.content.decode()
    loaders = re.findall(r"<[^>]*hx-trigger=\"[^\"]*\bload\b[^>]*>", html)
    # The trigger's box stays; only its content is swapped.
    assert len(loaders) == 1 and 'hx-swap="innerHTML"' in loaders[0]
    assert calls_to(api, "api/copayment") == []  # the page itself never calls Smart
    fragment = c.get(f"/smart/sessions/{active_session.pk}/copay/", {"benefit": benefit.pk},
                     HTTP_HX_REQUEST="true")

    assert b"KES 500.00" in fragment.content
    assert b"hx-trigger" not in fragment.content and b"hx-get" not in fragment.content
    assert len(calls_to(api, "api/copayment")) == 1


def test_a_billed_invoice_offers_no_not_billed_forms(api, client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    url = f"/smart/invoices/{invoice.pk}/"
    assert b"Why it is not billed" in client_for(alice).get(url).content
    SmartInvoice.objects.update(status="billed")

    page = client_for(alice).get(url)
    client_for(alice).post(f"{url}reason/", {"reason": "late"})

    assert b"Why it is not billed" not in page.content
    assert b"Send a diagnosis after the visit" not in page.content
    assert SmartInvoice.objects.get().not_billed_reason == ""


def test_a_cancelled_invoice_counts_in_money_at_risk_at_once(client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session, **{"lines-0-unit_price": "13000",
                                                        "lines-1-quantity": "",
                                                        "lines-1-code": "",
                                                        "lines-1-description": "",
                                                        "lines-1-unit_price": "",
                                                        "copay_amount": "0",
                                                        "accept_over_balance": "on"})
    SmartInvoice.objects.update(status="cancelled", posted_at=timezone.now())

    desk = client_for(alice).get("/smart/").content

    assert b"KES 13,000.00" in desk and b"KES 0.00" not in desk


def test_smarts_raw_answer_is_in_the_history_for_admins_only(client_for, alice, ada,
                                                             active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    invoice.log("refused", "Smart answered HTTP 409: Invoice exists",
                raw={"status": 409, "error": "Conflict", "message": "Invoice exists"})
    url = f"/smart/invoices/{invoice.pk}/"

    assert b"Smart's answer (admins)" in client_for(ada).get(url).content
    assert b"Smart's answer (admins)" not in client_for(alice).get(url).content


def test_a_total_over_the_benefit_balance_is_warned_before_posting(client_for, alice,
                                                                  active_session):
    response = _post_invoice(client_for(alice), active_session, **{"lines-0-unit_price": "9000"})
    assert b"exceeds the benefit" in response.content
    assert not SmartInvoice.objects.exists()

    _post_invoice(client_for(alice), active_session, accept_over_balance="on",
                  **{"lines-0-unit_price": "9000"})
    assert SmartInvoice.objects.get().exceeds_balance


def test_a_code_that_is_not_icd10_is_refused(client_for, alice, active_session):
    response = _post_invoice(client_for(alice), active_session, **{"dx-0-code": "99213"})
    assert b"is not an ICD-10 code" in response.content
    assert not SmartInvoice.objects.exists()


def test_an_invoice_without_a_diagnosis_is_listed_until_its_diagnosis_is_sent(
        api, client_for, alice, active_session, st_marys):
    SmartFacility.objects.filter(facility=st_marys).update(late_diagnosis=True)
    _post_invoice(client_for(alice), active_session, **{"dx-0-code": ""})
    invoice = SmartInvoice.objects.get()
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="pending", posted_at=timezone.now())
    assert b"Invoices posted without a diagnosis" in client_for(alice).get("/smart/").content
    api.add(responses.POST, f"{BASE}/api/clinic-record", json={"status": "Received"})

    client_for(alice).post(f"/smart/invoices/{invoice.pk}/diagnosis/", {"code": "j069"})

    body = json.loads(calls_to(api, "api/clinic-record", "POST")[0].request.body)
    assert body["invoiceNumber"] == "INV1500835" and body["diagnoses"][0]["code"] == "J06.9"
    assert b"Invoices posted without a diagnosis" not in client_for(alice).get("/smart/").content
    page = client_for(alice).get(f"/smart/invoices/{invoice.pk}/")
    assert b"Late diagnosis sent" in page.content


def test_a_late_diagnosis_is_refused_where_the_facility_has_no_arrangement(
        api, client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="pending", posted_at=timezone.now())

    response = client_for(alice).post(f"/smart/invoices/{invoice.pk}/diagnosis/",
                                      {"code": "J18.9"}, follow=True)

    assert b"has no arrangement with Smart for late diagnoses" in response.content
    assert calls_to(api, "api/clinic-record") == []
    assert [d["code"] for d in SmartInvoice.objects.get().diagnoses] == ["J06.9"]


def test_patient_pages_are_audited(client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    client_for(alice).get(f"/smart/sessions/{active_session.pk}/")
    client_for(alice).get(f"/smart/invoices/{invoice.pk}/")
    viewed = set(AuditEvent.objects.filter(action="view").values_list("object_type", "object_id"))
    assert ("smartlink.smartsession", str(active_session.pk)) in viewed
    assert ("smartlink.smartinvoice", str(invoice.pk)) in viewed


def test_the_status_poll_stops_once_the_invoice_is_final(client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    url = f"/smart/invoices/{invoice.pk}/"
    polling = client_for(alice).get(url, **POLL)
    assert b'hx-trigger="every 2s"' in polling.content and b"<h1>" not in polling.content
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="billed")
    final = client_for(alice).get(url, **POLL)
    assert final.status_code == 286
    assert b"hx-trigger" not in final.content and b"Billed" in final.content


def test_bob_gets_404_for_st_marys_sessions_and_invoices(client_for, alice, bob, active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    c = client_for(bob)
    assert c.get(f"/smart/sessions/{active_session.pk}/").status_code == 404
    assert c.get(f"/smart/invoices/{invoice.pk}/").status_code == 404
    assert c.post(f"/smart/sessions/{active_session.pk}/activate/",
                  {"visit_number": "X"}).status_code == 404
    assert c.post(f"/smart/invoices/{invoice.pk}/check/").status_code == 404
    assert b"INV1500835" not in c.get("/smart/").content


def test_the_visit_number_example_carries_this_year(api, client_for, ada, smart):
    opened = timezone.now() - timedelta(hours=3)
    api.add(responses.GET, f"{BASE}/api/visit", json=[{
        "sessionId": 62863, "patientNumber": "23025764", "status": "PENDING",
        "openedAt": opened.isoformat(), "expiresAt": (opened + timedelta(hours=24)).isoformat()}])

    response = client_for(ada).post("/smart/lookup/", {"patient_number": "23025764"},
                                    HTTP_HX_REQUEST="true")

    assert f'placeholder="e.g. OP-{timezone.localdate().year}-0042"' in response.content.decode()


def test_the_invoice_lists_its_diagnoses_in_a_table_with_headers(client_for, alice,
                                                                 active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()

    text = client_for(alice).get(f"/smart/invoices/{invoice.pk}/").content.decode()

    table = re.search(r'<table id="diagnoses">.*?</table>', text, flags=re.S).group(0)
    assert "<th>ICD-10 code</th><th>Description</th>" in table
    assert '<td class="mono">J06.9</td>' in table


def test_the_visit_history_lists_its_invoices(client_for, alice, active_session):
    _post_invoice(client_for(alice), active_session)
    invoice = SmartInvoice.objects.get()
    invoice.log("posted", "Smart stored the invoice.")

    text = client_for(alice).get(f"/smart/sessions/{active_session.pk}/").content.decode()

    history = text.split("<h2>History</h2>")[1]
    assert f'<a href="/smart/invoices/{invoice.pk}/">Invoice INV1500835</a>: <strong>Posted' \
        in history
