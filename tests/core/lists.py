"""The five filtered lists, for the tests that drive every one alike: where the page and
its export live, which parameters each reads, and two rows of which a valid filter keeps
one. Row identifiers are KEEP<n> and DROP<n>: the tests find them in the page and the CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.urls import reverse

from payer.models import PayerClaim
from revcycle.models import AuditEvent, Ticket
from tests.followup.conftest import make_ticket


@dataclass
class FilteredList:
    name: str
    url: str
    export_url: str
    make_rows: Callable[[dict[str, Any]], None]  # given the fixtures by name
    valid: dict[str, str]  # a filter that keeps KEEP<n> and drops DROP<n>
    typed: list[str]  # parameters whose bad values are ignored with a note
    free_text: list[str] = field(default_factory=list)  # any text is a valid value

    @property
    def parameters(self) -> list[str]:
        return [*self.typed, *self.free_text]


def _ticket(kind: str, fx: dict[str, Any], account: str, **values: Any) -> Ticket:
    return Ticket.objects.create(
        kind=kind, facility=fx["st_marys"], connection=fx["integrex"], state="done",
        request={"trackingId1": account, "internalAccountNumber1": account},
        account_number=account, patient_name="JANE DOE", payer="AETNA", **values)


def _claim_rows(fx: dict[str, Any]) -> None:
    _ticket("claim_status", fx, "KEEP1", outcome="denied")
    _ticket("claim_status", fx, "DROP1", outcome="paid")


def _discovery_rows(fx: dict[str, Any]) -> None:
    _ticket("discovery", fx, "KEEP2", outcome="found")
    _ticket("discovery", fx, "DROP2", outcome="error")


def _payer_rows(fx: dict[str, Any]) -> None:
    for reference, status in (("KEEP3", "approved"), ("DROP3", "rejected")):
        PayerClaim.objects.create(
            reference=reference, facility=fx["st_marys"], connection=fx["payer"],
            account_number=reference, patient_name="JANE DOE", diagnosis_code="J20.9",
            amount=Decimal("100.00"), status=status)


def _worklist_rows(fx: dict[str, Any]) -> None:
    make_ticket(fx["integrex"], account="KEEP4", amount="500.00")
    make_ticket(fx["integrex"], account="DROP4", amount="50.00")


def _audit_rows(fx: dict[str, Any]) -> None:
    # At maya's facility: a manager reads the audit log of her own facilities only.
    AuditEvent.objects.create(action="view", username="keeper", object_type="revcycle.ticket",
                              object_id="KEEP5", facility=fx["st_marys"])
    AuditEvent.objects.create(action="view", username="other", object_type="revcycle.ticket",
                              object_id="DROP5", facility=fx["st_marys"])


def all_lists() -> list[FilteredList]:
    return [
        FilteredList("claim status", reverse("claims:status_home"),
                     reverse("claims:status_export"), _claim_rows, {"outcome": "denied"},
                     ["outcome", "dates", "from", "to", "batch", "sort", "page"],
                     ["payer", "q"]),
        FilteredList("discovery", reverse("eligibility:home"), reverse("eligibility:export"),
                     _discovery_rows, {"outcome": "found"}, ["outcome", "batch", "page"],
                     ["payer", "q"]),
        FilteredList("payer claims", reverse("payer:list"), reverse("payer:export"),
                     _payer_rows, {"status": "approved"},
                     ["status", "connection", "from", "to", "page"]),
        FilteredList("worklist", reverse("followup:worklist"),
                     reverse("followup:worklist_export"), _worklist_rows,
                     {"amount_min": "100"},
                     ["domain", "age", "amount_min", "amount_max", "assignee", "status",
                      "sort", "size", "after"], ["outcome", "payer", "q"]),
        FilteredList("audit log", reverse("audit_log"), reverse("audit_export"), _audit_rows,
                     {"user": "keep"}, ["action", "page"], ["user", "object"]),
    ]


ROW_ID = re.compile(r"\b(?:KEEP|DROP)\d\b")


def ids_on_page(response: Any) -> set[str]:
    return set(ROW_ID.findall(response.content.decode()))


def ids_in_export(response: Any) -> set[str]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    list(csv.reader(io.StringIO(text)))  # the file parses as CSV
    return set(ROW_ID.findall(text))
