"""Helpers to put tickets in any state without running the engine."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from revcycle.models import Connection, Encounter, Ticket


def make_ticket(connection: Connection, *, kind: str = "claim_status", state: str = "done",
                outcome: str = "denied", amount: str | None = "100.00",
                service_date: date | None = None, encounter: Encounter | None = None,
                account: str = "ACC1001", payer: str = "AETNA", age_days: float = 0,
                finished_days_ago: float | None = None, patient: str = "JANE DOE",
                facility: Any = None, response: Any = None) -> Ticket:
    now = timezone.now()
    facility = facility or (encounter.facility if encounter else connection.facilities.first())
    ticket = Ticket.objects.create(
        kind=kind, facility=facility, connection=connection, encounter=encounter,
        request={"accountNumber": account}, account_number=account, patient_name=patient,
        payer=payer, amount=Decimal(amount) if amount is not None else None,
        service_date=service_date, state=state, outcome=outcome, response=response,
    )
    created = now - timedelta(days=age_days)
    finished: datetime | None = None
    if state in Ticket.FINAL_STATES:
        finished = now - timedelta(days=finished_days_ago if finished_days_ago is not None
                                   else age_days)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=created, queued_at=created,
                                               finished_at=finished)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def ticket_factory() -> Any:
    return make_ticket
