from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from followup.models import FollowUp, Note, RecheckPolicy, SavedView
from revcycle.models import AuditEvent, Ticket
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db
URL = reverse("followup:worklist")
# Session, user, permissions and roles, the policy, the page's count and rows, the
# filter choices (payers, colleagues, saved views): the same for every page.
MAX_QUERIES = 18


def _bulk(connection, n, offset=0):
    today = timezone.localdate()
    rows = []
    for i in range(offset, offset + n):
        t = Ticket(kind="claim_status", facility=connection.facilities.first(),
                   connection=connection, request={"a": i}, account_number=f"B{i:06d}",
                   patient_name=f"PAT {i}", payer=f"PAYER {i % 7}", state="done",
                   outcome=("denied", "rejected", "not_found")[i % 3],
                   amount=Decimal(i % 500), service_date=today - timedelta(days=i % 120))
        t.fill_summary()
        rows.append(t)
    Ticket.objects.bulk_create(rows, batch_size=500)


def test_a_denied_claim_shows_account_payer_amount_age_and_next_action(client_for, alice,
                                                                       integrex, encounter):
    make_ticket(integrex, encounter=encounter, amount="1250.00",
                service_date=timezone.localdate() - timedelta(days=40))
    body = client_for(alice).get(URL).content.decode()
    assert "ACC1001" in body and "AETNA" in body and "1,250.00" in body
    assert ">40<" in body
    assert "Read the denial reasons" in body
    assert reverse("followup:account", args=[encounter.pk]) in body


class _LaterClock:
    """The time module as the session middleware reads it, `seconds` later."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def time(self) -> float:
        return time.time() + self.seconds


def test_a_page_costs_the_same_queries_with_ten_or_three_thousand_rows(
        client_for, alice, integrex, django_assert_max_num_queries, monkeypatch):
    """Keyset paging: no query per row and no OFFSET scan, whatever the size of the list."""
    # What a request pays also depends on the clock: the worker-stall banner is asked at
    # most every 10 s per process, and the re-check policy and the menus are kept 60 and
    # 300 s in process memory. Filling 3,000 rows can take longer than that on a loaded
    # machine: a page once paid 13 statements instead of 12 (the policy read again after
    # its 60 s; the session is saved on every page, so its activity write adds none). Fix
    # each one so every page pays the same: the banner on every page, the rest never again.
    monkeypatch.setattr("revcycle.context_processors.STALL_CHECK_SECONDS", 0)
    monkeypatch.setattr("followup.models.POLICY_CACHE_SECONDS", None)
    monkeypatch.setattr("followup.views.CHOICES_CACHE_SECONDS", None)
    RecheckPolicy.get()
    client = client_for(alice)
    client.get(URL)  # the first request of a session records its activity: not a page cost
    _bulk(integrex, 10)
    counts = []
    with django_assert_max_num_queries(MAX_QUERIES) as small:
        client.get(URL, {"size": 25})
    counts.append(len(small.captured_queries))
    _bulk(integrex, 3000, offset=10)
    # As if filling them took 400 s (a loaded machine): the page must cost the same.
    for clock_reader in ("revcycle.middleware.time", "django.core.cache.backends.base.time",
                         "django.core.cache.backends.locmem.time"):
        monkeypatch.setattr(clock_reader, _LaterClock(400))
    with django_assert_max_num_queries(MAX_QUERIES) as big:
        first = client.get(URL, {"size": 100})
    counts.append(len(big.captured_queries))
    assert len(first.context["rows"]) == 100
    with django_assert_max_num_queries(MAX_QUERIES) as later:
        second = client.get(f"{URL}?{first.context['page'].next_query}")
    counts.append(len(later.captured_queries))
    assert len(second.context["rows"]) == 100
    assert not {r["ticket"].pk for r in first.context["rows"]} & {
        r["ticket"].pk for r in second.context["rows"]}
    assert len(set(counts)) == 1, counts


@pytest.mark.parametrize("sort", ["age", "-age", "amount", "-amount", "payer", "account"])
def test_keyset_pages_walk_every_row_once(client_for, alice, integrex, sort):
    _bulk(integrex, 57)
    client = client_for(alice)
    seen: list[int] = []
    url = f"{URL}?size=25&sort={sort}"
    while url:
        response = client.get(url)
        seen += [row["ticket"].pk for row in response.context["rows"]]
        page = response.context["page"]
        url = f"{URL}?{page.next_query}" if page.has_next else ""
    assert len(seen) == 57 and len(set(seen)) == 57


def test_search_finds_by_account_prefix_or_patient_name(client_for, alice, integrex):
    make_ticket(integrex, account="ZX-1", patient="MARY SMITH")
    make_ticket(integrex, account="QQ-2", patient="JOHN ROE")
    client = client_for(alice)

    def found(q):
        return [r["ticket"].account_number for r in client.get(URL, {"q": q}).context["rows"]]

    assert found("zx") == ["ZX-1"]
    assert found("roe") == ["QQ-2"]


def test_filters_by_payer_amount_and_assignee(client_for, alice, maya, integrex):
    small = make_ticket(integrex, account="S", amount="10.00", payer="CIGNA")
    big = make_ticket(integrex, account="B", amount="900.00", payer="AETNA")
    FollowUp.for_ticket(big).assign(maya)
    client = client_for(alice)

    def accounts(**params):
        return {r["ticket"].account_number for r in client.get(URL, params).context["rows"]}

    assert accounts(payer="CIGNA") == {"S"}
    assert accounts(amount_min="100") == {"B"}
    assert accounts(assignee=str(maya.pk)) == {"B"}
    assert accounts(assignee="none") == {"S"}
    assert small


def test_a_biller_assigns_notes_and_resolves_and_each_change_is_audited(
        client_for, alice, maya, integrex, encounter):
    ticket = make_ticket(integrex, encounter=encounter)
    client = client_for(alice)
    client.post(reverse("followup:act"), {"ticket": ticket.pk, "action": "assign",
                                          "assignee": maya.pk})
    assert FollowUp.objects.get(ticket=ticket).assignee == maya
    client.post(reverse("followup:add_note", args=[encounter.pk]),
                {"text": "Called Aetna, appeal filed", "ticket": ticket.pk})
    assert Note.objects.get().ticket == ticket
    client.post(reverse("followup:act"), {"ticket": ticket.pk, "action": "resolve",
                                          "reason": "appeal filed"})
    followup = FollowUp.objects.get(ticket=ticket)
    assert followup.status == "resolved" and followup.resolved_by == alice
    actions = list(AuditEvent.objects.filter(encounter=encounter).values_list("action", "detail"))
    assert ("change", f"assigned to user {maya.pk}") in actions
    assert ("create", f"note on ticket {ticket.pk}") in actions
    assert ("change", "resolved") in actions


def test_bulk_recheck_requeues_only_final_tickets_and_kicks_the_engine(client_for, alice,
                                                                       integrex):
    done = make_ticket(integrex)
    running = make_ticket(integrex, state="processing", outcome="")
    with mock.patch("followup.views.engine.kick") as kick:
        client_for(alice).post(reverse("followup:act"), {"ticket": [done.pk, running.pk],
                                                         "action": "recheck"})
    done.refresh_from_db()
    running.refresh_from_db()
    assert done.state == "queued" and running.state == "processing"
    kick.assert_called_once()
    assert AuditEvent.objects.filter(action="submit", object_id=str(done.pk)).count() == 1


def test_a_biller_cannot_touch_another_facilitys_ticket(client_for, bob, integrex):
    ticket = make_ticket(integrex)
    client_for(bob).post(reverse("followup:act"), {"ticket": ticket.pk, "action": "resolve",
                                                   "reason": "x"})
    assert not FollowUp.objects.exists()


def test_assigning_to_someone_outside_the_facilities_is_refused(client_for, alice, bob,
                                                                 integrex):
    ticket = make_ticket(integrex)
    client_for(alice).post(reverse("followup:act"), {"ticket": ticket.pk, "action": "assign",
                                                     "assignee": bob.pk})
    assert not FollowUp.objects.filter(assignee=bob).exists()


def test_actions_are_posts_only(client_for, alice, integrex):
    ticket = make_ticket(integrex)
    response = client_for(alice).get(reverse("followup:act"), {"ticket": ticket.pk,
                                                               "action": "resolve"})
    assert response.status_code == 405


def test_saved_views_belong_to_their_owner(client_for, alice, maya):
    client = client_for(alice)
    client.post(reverse("followup:save_view"), {"name": "My denials",
                                                "querystring": "outcome=denied"})
    assert SavedView.objects.get(user=alice).querystring == "outcome=denied"
    body = client.get(URL).content.decode()
    assert "My denials" in body and "?outcome=denied" in body
    client_for(maya)
    assert "My denials" not in client.get(URL).content.decode()


def test_a_saved_view_keeps_the_valid_filters_and_drops_the_ignored_ones(client_for, alice,
                                                                         integrex):
    make_ticket(integrex, account="A-CHEAP", amount="50.00")
    make_ticket(integrex, account="A-DEAR", amount="500.00")
    client = client_for(alice)
    page = client.get(URL, {"amount_min": "NaN", "payer": "AETNA", "sort": "-amount"})
    assert page.context["querystring"] == "payer=AETNA&sort=-amount"
    client.post(reverse("followup:save_view"), {"name": "Aetna",
                                                "querystring": page.context["querystring"]})
    saved = SavedView.objects.get(user=alice, name="Aetna")
    rows = client.get(f"{URL}?{saved.querystring}").context["rows"]
    assert [r["ticket"].account_number for r in rows] == ["A-DEAR", "A-CHEAP"]
