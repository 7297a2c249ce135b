"""Every action that takes ids from the request, given ids of another facility's rows,
changes nothing: alice (St. Mary's) posts the ids of Lakeside's rows (bob's facility).

Each line of ACTIONS names one action, the ids it is given and how it refuses: 404 for a
record in the URL, or an ignored selection with a message. The whole of the records an
action could touch is compared before and after, and no HTTP request may leave (Smart's and
the payers' calls go through `responses`, which has nothing registered)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from eligibility.models import Coverage
from followup.models import FollowUp, Note, SavedView
from payer.models import PayerClaim
from revcycle.models import Connection, Encounter, Facility, Ticket
from smartlink.models import SmartBenefit, SmartFacility, SmartInvoice, SmartMember, SmartSession
from tests.eligibility.conftest import request_body
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db

WATCHED = [Ticket, FollowUp, Note, SavedView, Coverage, Encounter, PayerClaim, SmartSession,
           SmartMember, SmartBenefit, SmartInvoice]


def _connection(kind: str, facility: Facility, **extra: Any) -> Connection:
    conn = Connection.objects.create(kind=kind, name=f"Lakeside {kind}",
                                     base_url=f"https://{kind}.lakeside.test/api",
                                     client_id="LakeClient", client_secret="lake-secret",
                                     **extra)
    conn.facilities.add(facility)
    return conn


@pytest.fixture
def lake(lakeside: Facility, bob: Any) -> dict[str, Any]:
    """Lakeside's rows, each in the state its action would change if it were reached."""
    integrex = _connection("integrex", lakeside)
    payer = _connection("payer", lakeside, api_key="k", provider_id="P-9")
    smart = _connection("smart", lakeside, username="u", password="p")
    encounter = Encounter.objects.create(
        facility=lakeside, account_number="LAKE77", patient_first_name="RUTH",
        patient_last_name="LAKE", patient_dob="1960-05-06", subscriber_id="L123",
        payer_id="CIGNA", payer_name="CIGNA", service_date_from="2026-10-02",
        total_charges=Decimal("300.00"))
    claim = make_ticket(integrex, outcome="pending", encounter=encounter, account="LAKE77",
                        age_days=10)
    FollowUp.for_ticket(claim).assign(bob)
    discovery = make_ticket(integrex, kind="discovery", outcome="found", encounter=encounter,
                            account="LAKE77")
    coverage = Coverage.objects.create(ticket=discovery, payer_id1="UHC",
                                       payer_name1="UNITED HEALTHCARE")
    payer_claim = PayerClaim.objects.create(
        facility=lakeside, connection=payer, encounter=encounter, account_number="LAKE77",
        patient_name="RUTH LAKE", diagnosis_code="J20.9", amount=Decimal("90.00"),
        status=PayerClaim.Status.UNKNOWN)
    SmartFacility.objects.create(facility=lakeside, provider_key="SKSP_LAKE", manages_copay=True,
                                 late_diagnosis=True)
    now = timezone.now()
    session = SmartSession.objects.create(
        connection=smart, facility=lakeside, session_id="7001", patient_number="LK-1",
        status=SmartSession.Status.PENDING, opened_at=now - timedelta(hours=1),
        expires_at=now + timedelta(hours=20))
    active = SmartSession.objects.create(
        connection=smart, facility=lakeside, session_id="7002", patient_number="LK-2",
        status=SmartSession.Status.ACTIVE, visit_number="LKV2", opened_at=now,
        expires_at=now + timedelta(hours=20))
    member = SmartMember.objects.create(session=active, member_number="LKM2", first_name="R",
                                        last_name="LAKE")
    benefit = SmartBenefit.objects.create(member=member, benefit_id="501", name="OUTPATIENT",
                                          limit=Decimal("9000"), balance=Decimal("9000"))
    invoice = SmartInvoice.objects.create(
        connection=smart, facility=lakeside, session=active, invoice_number="LINV1",
        visit_number="LKV2", patient_number="LK-2", smart_benefit=benefit, benefit_id="501",
        total_amount=Decimal("100.00"), status=SmartInvoice.Status.PENDING,
        posted_at=now - timedelta(days=3), lines=[{"code": "C1"}],
        ticket=make_ticket(smart, kind="smart_invoice_status", outcome="pending",
                           facility=lakeside))
    saved = SavedView.objects.create(user=bob, name="Bob's denials", querystring="outcome=denied")
    return {"claim": claim, "discovery": discovery, "coverage": coverage, "encounter": encounter,
            "payer_claim": payer_claim, "session": session, "active": active,
            "benefit": benefit, "invoice": invoice, "saved": saved}


@dataclass(frozen=True)
class Action:
    url: Callable[[dict[str, Any]], str]
    data: Callable[[dict[str, Any]], dict[str, Any]]
    status: int = 404
    message: str = ""  # the ignored selection's message, for a 302
    user: str = "alice"  # payer resend needs a manager: maya


def _u(name: str, key: str) -> Callable[[dict[str, Any]], str]:
    return lambda w: reverse(name, args=[w[key].pk])


def _none(w: dict[str, Any]) -> dict[str, Any]:
    return {}


def _selection(action: str, **extra: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda w: {"ticket": [w["claim"].pk, w["discovery"].pk], "action": action, **extra}


ACTIONS: dict[str, Action] = {
    "claims: check again (one)": Action(_u("claims:check_again", "claim"), _none),
    "claims: check again (selection)": Action(
        lambda w: reverse("claims:check_again_selected"), lambda w: {"ids": [w["claim"].pk]},
        302, "Nothing to check again"),
    "eligibility: check again": Action(_u("eligibility:check_again", "discovery"), _none),
    "eligibility: apply a coverage": Action(_u("eligibility:apply", "coverage"), _none),
    "worklist: assign": Action(lambda w: reverse("followup:act"),
                               _selection("assign", assignee=""), 302, "Select at least one"),
    "worklist: check again": Action(lambda w: reverse("followup:act"), _selection("recheck"),
                                    302, "Select at least one"),
    "worklist: resolve": Action(lambda w: reverse("followup:act"),
                                _selection("resolve", reason="paid"), 302,
                                "Select at least one"),
    "worklist: add a note": Action(
        lambda w: reverse("followup:add_note", args=[w["encounter"].pk]),
        lambda w: {"text": "written by alice", "ticket": w["claim"].pk}),
    "worklist: delete a saved view": Action(_u("followup:delete_view", "saved"), _none, 302),
    "payer: re-send": Action(_u("payer:resend", "payer_claim"), _none, user="maya"),
    "payer: found at the payer": Action(_u("payer:found", "payer_claim"),
                                        lambda w: {"claim_id": "CLM-LAKE-1"}),
    "smart: activate": Action(_u("smartlink:activate", "session"),
                              lambda w: {"visit_number": "ALICE1"}),
    "smart: new session requested": Action(_u("smartlink:renewal", "session"), _none),
    "smart: read the member again": Action(_u("smartlink:refresh_member", "active"), _none),
    "smart: post an invoice": Action(
        _u("smartlink:post_invoice", "active"),
        lambda w: {"benefit": w["benefit"].pk, "invoice_number": "ALICE9", "copay_amount": "0",
                   "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0",
                   "lines-0-code": "C1", "lines-0-description": "Consultation",
                   "lines-0-quantity": "1", "lines-0-unit_price": "50",
                   "dx-TOTAL_FORMS": "1", "dx-INITIAL_FORMS": "0", "dx-0-code": "J06.9"}),
    "smart: check an invoice": Action(_u("smartlink:check_status", "invoice"), _none),
    "smart: not-billed reason": Action(_u("smartlink:record_reason", "invoice"),
                                       lambda w: {"reason": "alice was here"}),
    "smart: late diagnosis": Action(_u("smartlink:late_diagnosis", "invoice"),
                                    lambda w: {"code": "J06.9"}),
}


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in WATCHED}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_another_facilitys_ids_change_nothing(name: str, lake: dict[str, Any], client_for: Any,
                                              alice: Any, maya: Any, st_marys: Facility) -> None:
    action = ACTIONS[name]
    client = client_for({"alice": alice, "maya": maya}[action.user])
    before = _snapshot()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as sent:
        response = client.post(action.url(lake), action.data(lake))

    # The effects first, so that a hole shows as what it changed, not only as a status.
    assert [c.request.url for c in sent.calls] == []
    assert _snapshot() == before
    assert response.status_code == action.status
    if action.message:
        shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
        assert action.message in shown


def test_every_view_taking_ids_has_a_line(lake: dict[str, Any]) -> None:
    """A guard against a new id-taking POST route without a line here: the URL names the
    table covers, compared with the routes that take an id or a selection by POST."""
    covered = {a.url(lake).rstrip("/").rsplit("/", 1)[-1] for a in ACTIONS.values()}
    assert {"check-again", "apply", "actions", "notes", "delete", "resend", "found",
            "activate", "new-session-requested", "member", "invoice", "check", "reason",
            "diagnosis"} <= covered


def test_assigning_to_someone_of_another_facility_is_refused(lake: dict[str, Any],
                                                              client_for: Any, alice: Any,
                                                              bob: Any, integrex: Any) -> None:
    mine = make_ticket(integrex, outcome="pending", age_days=10)
    FollowUp.for_ticket(mine).assign(alice)

    response = client_for(alice).post(reverse("followup:act"), {
        "ticket": [mine.pk], "action": "assign", "assignee": bob.pk})

    assert response.status_code == 302
    assert FollowUp.objects.get(ticket=mine).assignee == alice
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "does not work at your facilities" in shown


def test_a_note_on_my_account_is_not_tied_to_another_facilitys_ticket(
        lake: dict[str, Any], client_for: Any, alice: Any, encounter: Encounter) -> None:
    response = client_for(alice).post(reverse("followup:add_note", args=[encounter.pk]),
                                      {"text": "called the payer", "ticket": lake["claim"].pk})

    assert response.status_code == 302
    note = Note.objects.get(encounter=encounter)
    assert note.ticket is None
    assert not Note.objects.filter(ticket=lake["claim"]).exists()


def test_a_new_lookup_is_not_tied_to_another_facilitys_account(
        lake: dict[str, Any], client_for: Any, alice: Any, st_marys: Facility,
        integrex: Any) -> None:
    """A discovery takes the account's id from the form: another facility's account is
    treated as none, never linked to alice's new ticket."""
    theirs = set(Ticket.objects.filter(facility=lake["encounter"].facility))
    client = client_for(alice)
    client.post(reverse("eligibility:new"), request_body(
        facility=str(st_marys.pk), encounter=str(lake["encounter"].pk)))

    mine = Ticket.objects.get(facility=st_marys, kind="discovery")
    assert mine.encounter is None
    assert set(Ticket.objects.filter(facility=lake["encounter"].facility)) == theirs
