"""The engine's trace for the bench's timeline (revcycle.enginetrace): off unless
ENGINE_TRACE_FILE names a file; on, the pump writes a line per claim and per step."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from revcycle import engine, enginetrace
from revcycle.models import Ticket

MakeTicket = Callable[..., Ticket]


def _pump_until_done() -> None:
    engine.pump(60, threads=2, scan_every=0.05, stop=lambda: not Ticket.objects.open().exists())


@pytest.mark.django_db(transaction=True)
def test_the_pump_traces_each_step_and_claim_when_asked(
        make_ticket: MakeTicket, echo_kind: engine.Kind, tmp_path: Path, monkeypatch: Any) -> None:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("ENGINE_TRACE_FILE", str(trace))
    monkeypatch.setattr(enginetrace, "_files", {})
    echo_kind.submit = lambda t: engine.Done("paid", {"n": t.pk}, 200)
    tickets = {make_ticket().pk for _ in range(3)}

    _pump_until_done()

    events = [json.loads(line) for line in trace.read_text().splitlines()]
    steps = [e for e in events if e["what"] == "step"]
    assert {e["ticket"] for e in steps} == tickets
    assert all(e["state"] == "queued" and e["end"] >= e["start"] for e in steps)
    assert all(e["thread"].startswith("engine-") for e in steps)
    assert all(e["pid"] == os.getpid() for e in events)  # engines name threads alike
    claims = [e for e in events if e["what"] == "claim"]
    # Each ticket was leased once: by a claim, or by a step that handed its place on.
    assert sum(e["got"] for e in claims) + sum(e["handed"] for e in steps) == 3
    # What the bench's timeline reads of a claim: when it began and ended, and how many
    # places it asked for (the free threads, here at most 2) against how many it got.
    assert all(isinstance(e["start"], float) and e["end"] >= e["start"] for e in claims)
    assert all(1 <= e["asked"] <= 2 and e["got"] <= e["asked"] for e in claims)


@pytest.mark.django_db(transaction=True)
def test_a_step_handed_by_id_runs_and_is_traced_without_a_state(
        make_ticket: MakeTicket, echo_kind: engine.Kind, tmp_path: Path, monkeypatch: Any) -> None:
    """A thread may be handed a ticket's id instead of the ticket (claim_due's ids): the
    step runs, and its trace line has no state to tell (the ticket was not read yet)."""
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("ENGINE_TRACE_FILE", str(trace))
    monkeypatch.setattr(enginetrace, "_files", {})
    echo_kind.submit = lambda t: engine.Done("paid", {"n": t.pk}, 200)
    ticket = make_ticket()
    [claimed] = engine.claim_due("owner-a", 1)
    workers = engine._Workers(1, "owner-a")
    try:
        workers.submit(claimed)
        assert workers.wait_free(1, timeout=30) == 1
    finally:
        workers.stop()

    assert Ticket.objects.get(pk=ticket.pk).state == Ticket.State.DONE
    [step] = [json.loads(line) for line in trace.read_text().splitlines()]
    assert (step["what"], step["ticket"], step["state"]) == ("step", ticket.pk, "")


@pytest.mark.django_db(transaction=True)
def test_the_pump_writes_no_trace_by_default(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any) -> None:
    monkeypatch.delenv("ENGINE_TRACE_FILE", raising=False)
    monkeypatch.setattr(enginetrace, "_files", {})
    echo_kind.submit = lambda t: engine.Done("paid", {"n": t.pk}, 200)
    make_ticket()

    _pump_until_done()

    assert Ticket.objects.filter(state="done").count() == 1
    assert enginetrace._files == {}  # no trace file was opened
