"""Smart fixtures: a mocked Smart API with a password-grant token, and a visit that has
reached the invoice step (an ACTIVE session with a member and two benefits)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.utils import timezone

from revcycle import engine
from revcycle.models import Ticket
from smartlink.models import SmartBenefit, SmartMember, SmartSession

BASE = "https://smart.test/providerapi-dev"
TOKEN_URL = f"{BASE}/oauth/token"


def token_json(access: str = "access-1", refresh: str = "refresh-1") -> dict[str, Any]:
    return {"access_token": access, "token_type": "bearer", "refresh_token": refresh,
            "expires_in": 33499, "scope": "read write", "client_id": "Himilo_HMIS"}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    """Smart, mocked: the token endpoint answers a password grant; tests add the rest."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, TOKEN_URL, json=token_json())
        yield mock


def calls_to(mock: responses.RequestsMock, path: str, method: str | None = None) -> list[Any]:
    return [c for c in mock.calls if c.request.url.split("?")[0] == f"{BASE}/{path}"
            and (method is None or c.request.method == method)]


@pytest.fixture
def session(smart: Any, st_marys: Any) -> SmartSession:
    now = timezone.now()
    return SmartSession.objects.create(
        connection=smart, facility=st_marys, session_id="62863", patient_number="23025764",
        status=SmartSession.Status.PENDING, opened_at=now - timedelta(hours=2),
        expires_at=now + timedelta(hours=22))


@pytest.fixture
def active_session(session: SmartSession) -> SmartSession:
    session.status = SmartSession.Status.ACTIVE
    session.visit_number = "AKHILS001"
    session.save()
    member = SmartMember.objects.create(session=session, member_number="SAMPLETEST502",
                                        first_name="AMINA", last_name="OTIENO",
                                        scheme="KCB STAFF MEDICAL SCHEME", insurer="BRITAM")
    SmartBenefit.objects.create(member=member, benefit_id="93181", name="OUTPATIENT",
                                limit=Decimal("100000"), balance=Decimal("5000.00"))
    SmartBenefit.objects.create(member=member, benefit_id="93182", name="DENTAL",
                                limit=Decimal("20000"), balance=Decimal("20000.00"))
    return session


def invoice_post(benefit: SmartBenefit, **extra: Any) -> dict[str, Any]:
    """The visit page's invoice form, filled in: two lines and one diagnosis."""
    data = {
        "benefit": benefit.pk, "invoice_number": "INV1500835", "copay_amount": "200",
        "lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0",
        "lines-0-code": "CONS01", "lines-0-description": "Consultation",
        "lines-0-quantity": "1", "lines-0-unit_price": "1500",
        "lines-1-code": "LAB22", "lines-1-description": "Full blood count",
        "lines-1-quantity": "2", "lines-1-unit_price": "750.50",
        "dx-TOTAL_FORMS": "2", "dx-INITIAL_FORMS": "0",
        "dx-0-code": "J06.9", "dx-0-description": "",
    }
    data.update(extra)
    return data


def run_due(now: Any = None) -> int:
    """Make every open ticket due and run one step of each, as a pump would."""
    Ticket.objects.filter(state__in=Ticket.OPEN_STATES).update(
        next_poll_at=timezone.now() - timedelta(seconds=1), lease_owner="", lease_until=None)
    owner = engine.new_owner()
    ids = engine.claim_due(owner, 50)
    for ticket_id in ids:
        engine.run_step(ticket_id, owner)
    return len(ids)
