"""Fixtures for the security tests: a facility member with no role, a claim-status ticket
naming a patient, and the Smart fixtures (a mocked API and a PENDING session)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from revcycle.models import Connection, Encounter, Facility, Ticket
from tests.conftest import PASSWORD
from tests.smartlink.conftest import active_session, api, session  # noqa: F401


@pytest.fixture
def nora(st_marys: Facility) -> User:
    """A member of St. Mary's whom no admin has given a role yet: she must see no PHI."""
    user = User.objects.create_user("nora", "nora@example.org", PASSWORD)
    st_marys.members.add(user)
    return user


@pytest.fixture
def ticket(encounter: Encounter, integrex: Connection) -> Ticket:
    return Ticket.objects.create(
        kind="claim_status", facility=encounter.facility, connection=integrex,
        encounter=encounter, request={"accountNumber": "ACC1001"}, account_number="ACC1001",
        patient_name="DOE, JANE", state=Ticket.State.DONE, outcome="paid")
