"""A fourth service plugs in without editing a core file: everything it needs (its kind of
connection, auth, headers, how its requests read on lists, outcome labels, and the engine
steps) is registered from outside the core, here from the test itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.utils import timezone

from revcycle import api, engine, services
from revcycle.csvio import lenient_get
from revcycle.models import Connection, Facility, Ticket
from revcycle.validators import parse_amount, parse_date

BASE = "https://toy.test/v1"


def toy_headers(connection: Connection) -> dict[str, str]:
    return {"X-Toy-Tenant": connection.provider_id}


def toy_summary(request: dict[str, Any]) -> services.Summary:
    return services.Summary(
        account=lenient_get(request, "acct"), patient=lenient_get(request, "name"),
        payer=lenient_get(request, "insurer"),
        amount=parse_amount(lenient_get(request, "charge", default=None)),
        service_date=parse_date(lenient_get(request, "dos", default=None)),
    )


def toy_submit(ticket: Ticket) -> engine.Step:
    answer = api.call(ticket.connection, "POST", "claims", json=ticket.request,
                      ticket_id=ticket.pk)
    return engine.Submitted(answer.data["id"], answer.status, poll_in=0)


def toy_poll(ticket: Ticket) -> engine.Step:
    answer = api.call(ticket.connection, "GET", f"claims/{ticket.remote_id}",
                      ticket_id=ticket.pk)
    if answer.data["status"] == "working":
        return engine.Pending(answer.status)
    return engine.Done(answer.data["status"], answer.data, answer.status)


@pytest.fixture
def toy_service() -> Iterator[None]:
    services.register(services.Service(
        kind="toy", label="Toy claims", auth=services.Auth.CLIENT_CREDENTIALS,
        token_path="oauth2/token", headers=toy_headers,
        credential_fields=("client_id", "client_secret", "provider_id"),
    ))
    services.register_ticket_kind(services.TicketKind(
        name="toy_claim", service="toy", summary=toy_summary,
        outcome_labels={"accepted": "Accepted by Toy"},
        outcome_advice={"accepted": "Nothing to do: Toy pays within 30 days."},
    ))
    engine.register(engine.Kind(name="toy_claim", label="Toy claim", service="toy",
                                submit=toy_submit, poll=toy_poll, default_interval=1))
    yield
    engine.KINDS.pop("toy_claim", None)
    services.unregister("toy_claim")
    services.unregister("toy")


@pytest.fixture
def toy_connection(toy_service: None, st_marys: Facility) -> Connection:
    connection = Connection.objects.create(
        kind="toy", name="Toy", base_url=BASE, client_id="toy-client",
        client_secret="toy-secret", provider_id="TENANT-7", poll_interval_seconds=1,
    )
    connection.facilities.add(st_marys)
    return connection


def run_due(owner: str) -> list[int]:
    claimed = engine.claim_due(owner, 10)
    for ticket_id in claimed:
        engine.run_step(ticket_id, owner)
    return claimed


@responses.activate
def test_a_toy_service_registered_outside_the_core_runs_a_ticket_through_the_engine(
        toy_connection: Connection, st_marys: Facility) -> None:
    token = responses.post(f"{BASE}/oauth2/token", json={
        "access_token": "toy-token", "token_type": "bearer", "expires_in": 3600})
    submit = responses.post(f"{BASE}/claims", json={"id": "T-1"}, status=202)
    poll = responses.get(f"{BASE}/claims/T-1", json={"id": "T-1", "status": "accepted"})
    body = {"acct": "ACC-9", "name": "Ana Toy", "insurer": "Toy Mutual", "charge": "125.50",
            "dos": "2026-10-01"}
    ticket = Ticket.objects.create(kind="toy_claim", facility=st_marys,
                                   connection=toy_connection, request=body,
                                   next_poll_at=timezone.now())

    assert run_due("worker-1") == [ticket.pk]  # submits
    Ticket.objects.filter(pk=ticket.pk).update(next_poll_at=timezone.now())
    assert run_due("worker-1") == [ticket.pk]  # polls

    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("POST", f"{BASE}/oauth2/token"), ("POST", f"{BASE}/claims"),
        ("GET", f"{BASE}/claims/T-1")]
    assert token.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert "grant_type=client_credentials" in token.calls[0].request.body
    sent = submit.calls[0].request
    assert sent.headers["Authorization"] == "Bearer toy-token"
    assert sent.headers["X-Toy-Tenant"] == "TENANT-7"
    assert json.loads(sent.body) == body
    assert poll.calls[0].request.headers["X-Toy-Tenant"] == "TENANT-7"

    ticket.refresh_from_db()
    assert (ticket.state, ticket.outcome, ticket.remote_id) == ("done", "accepted", "T-1")
    assert (ticket.account_number, ticket.patient_name, ticket.payer) == (
        "ACC-9", "Ana Toy", "Toy Mutual")
    assert (ticket.amount, ticket.service_date) == (Decimal("125.50"), date(2026, 10, 1))
    assert services.outcome_label(ticket.outcome, ticket.kind) == "Accepted by Toy"


def test_a_registered_service_is_a_choice_of_connection_kind(toy_service: None, db: Any) -> None:
    field = Connection._meta.get_field("kind")
    assert ("toy", "Toy claims") in list(field.choices)
    Connection(kind="toy", name="Toy", base_url=BASE).full_clean()
