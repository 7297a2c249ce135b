"""Discovery promises no other test held: a 202's Retry-After is honoured, and a coverage
that names only a member id is a coverage found."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from eligibility import flow
from revcycle import engine
from revcycle.models import Ticket
from tests.eligibility.conftest import DISCOVERY_URL, drive, request_body


def _step(ticket: Ticket) -> Ticket:
    """One engine step now, whatever the ticket's poll time."""
    owner = engine.new_owner()
    Ticket.objects.filter(pk=ticket.pk).update(next_poll_at=timezone.now())
    assert engine.claim_due(owner, 1) == [ticket.pk]
    engine.run_step(ticket.pk, owner)
    ticket.refresh_from_db()
    return ticket


def test_a_202s_retry_after_delays_the_next_discovery_poll(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "r-wait"})
    mocked.get(DISCOVERY_URL, status=202, json={}, headers={"Retry-After": "600"})
    ticket = flow.queue_lookup(facility=st_marys, connection=integrex, body=request_body())

    _step(ticket)  # the POST
    before = timezone.now()
    ticket = _step(ticket)  # the GET answers 202, Retry-After: 600

    assert ticket.state == Ticket.State.PROCESSING and ticket.last_http_status == 202
    assert ticket.next_poll_at >= before + timedelta(seconds=600)
    assert [c.request.method for c in mocked.calls if "discovery" in c.request.url] == [
        "POST", "GET"]


def test_a_coverage_carrying_only_a_member_id_is_found(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "r-member"})
    mocked.get(DISCOVERY_URL, json=[{"sub.MemberID": "W77", "patientLastName": "DOE",
                                      "requestStatus": "Coverage Found"}])

    ticket = drive(flow.queue_lookup(facility=st_marys, connection=integrex,
                                     body=request_body()))

    assert (ticket.state, ticket.outcome) == ("done", "found")
    assert list(ticket.coverages.values_list("member_id", flat=True)) == ["W77"]
