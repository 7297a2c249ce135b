"""The list screens' row cells (revcycle/templatetags/rows.py) write the very bytes the
general tags wrote: `row_url` what `{% url %}` wrote, `ymd` and `ymd_hm` what the `date`
filter wrote, in the current time zone. Each screen is drawn twice, with its template and
with the template as it was (the cheap cells written back as the general tags)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.template import Context, Template, engines
from django.urls import reverse
from django.utils import timezone

from claims.models import ClaimStatusResult
from payer.models import PayerClaim
from revcycle.models import Batch, Ticket
from tests.perf.test_list_query_counts import _tickets

NAIROBI = zoneinfo.ZoneInfo("Africa/Nairobi")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _old(source: str) -> str:
    """A template as it was before the cheap cells: the general tags back in their place."""
    source = re.sub(r"\{% row_url ", "{% url ", source)
    source = source.replace("|ymd_hm", '|date:"Y-m-d H:i"').replace("|ymd ", '|date:"Y-m-d" ')
    source = source.replace("|ymd}", '|date:"Y-m-d"}')
    return source


def _both(cell: str, **context: Any) -> tuple[str, str]:
    new = Template("{% load rows %}" + cell).render(Context(context))
    old = Template(_old(cell)).render(Context(context))
    return new, old


@pytest.mark.parametrize("value", [
    datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # 01:59 in New York, before the DST jump
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # 03:00 there, after it
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 twice in New York (fall back)
    datetime(2026, 12, 31, 22, 15, tzinfo=UTC),  # already next year in Nairobi
    datetime(999, 1, 2, 3, 4, tzinfo=UTC),  # a year of three digits is padded to four
    datetime(2026, 5, 6, 7, 8),  # naive: as it is
    None, "", "2026-01-01", 0,
])
@pytest.mark.parametrize("zone", [UTC, NAIROBI, NEW_YORK])
def test_ymd_hm_writes_what_the_date_filter_wrote_in_the_current_time_zone(value, zone):
    with timezone.override(zone):
        new, old = _both("{{ v|ymd_hm }}", v=value)
    assert new == old


@pytest.mark.parametrize("value", [
    date(2026, 2, 28), date(5, 1, 2), datetime(2026, 12, 31, 22, 15, tzinfo=UTC),
    None, "", "2026-01-01", 0,
])
@pytest.mark.parametrize("zone", [UTC, NAIROBI])
def test_ymd_writes_what_the_date_filter_wrote(value, zone):
    with timezone.override(zone):
        new, old = _both("{{ v|ymd }}", v=value)
    assert new == old


def test_ymd_hm_shows_the_current_time_zone_not_utc():
    with timezone.override(NAIROBI):
        new, _ = _both("{{ v|ymd_hm }}", v=datetime(2026, 12, 31, 22, 15, tzinfo=UTC))
    assert new == "2027-01-01 01:15"


@pytest.mark.parametrize("name", ["claims:status_detail", "claims:check_again",
                                  "payer:detail", "followup:account", "eligibility:result"])
def test_row_url_writes_what_url_wrote_for_every_row(name):
    rows = [1, 7, 12345, 2**63 - 1]
    cell = "{% for pk in rows %}{% row_url name pk %};{% endfor %}"
    new, old = _both(cell, rows=rows, name=name)
    assert new == old
    assert new.split(";")[:2] == [reverse(name, args=[1]), reverse(name, args=[7])]


def test_row_url_reverses_once_per_page(monkeypatch):
    import revcycle.templatetags.rows as rows_module

    calls = []

    def counting_reverse(*args: Any, **kwargs: Any) -> str:
        calls.append(args)
        return reverse(*args, **kwargs)

    monkeypatch.setattr(rows_module, "reverse", counting_reverse)
    # The row cells of an {% include %} share the page's patterns.
    engine = engines["django"].engine
    cells = engine.from_string("{% load rows %}{% row_url 'payer:detail' pk %}")
    page = engine.from_string("{% load rows %}{% for pk in rows %}"
                              "{% row_url 'claims:status_detail' pk %}{% include cells %}"
                              "{% endfor %}")
    page.render(Context({"rows": range(1, 51), "cells": cells}))
    assert sorted(a[0] for a in calls) == ["claims:status_detail", "payer:detail"]


# The screens, drawn with their template and with the template as it was --------------


def _drawn_both_ways(response: Any, template_name: str) -> tuple[str, str]:
    """The response's HTML, and the same context drawn by the old template text."""
    source = (TEMPLATES / template_name).read_text()
    old = engines["django"].from_string(_old(source))
    context = response.context[0].flatten()  # the page's own, the outermost
    return response.content.decode(), old.render(context, response.wsgi_request)


def _rows_part(text: str) -> str:
    """The table and pager (the rest of the page, such as the CSRF token, is not the rows')."""
    start = text.index("<table")
    return text[start:text.rindex("</table>")]


@pytest.mark.django_db
def test_claim_status_worklist_rows_are_byte_identical_to_the_old_template(
        client_for, alice, integrex):
    tickets = _tickets(integrex, "claim_status", 60)
    ClaimStatusResult.objects.bulk_create(
        ClaimStatusResult(ticket=t, payer_claim_number=f"P{t.pk}",
                          date_of_service=date(2026, 1, 1) + timedelta(days=t.pk % 9))
        for t in tickets[::2])
    response = client_for(alice).get(reverse("claims:status_home"))
    new, old = _drawn_both_ways(response, "claims/status_home.html")
    assert _rows_part(new) == _rows_part(old)
    assert reverse("claims:status_detail", args=[tickets[-1].pk]) in new


@pytest.mark.django_db
def test_discovery_worklist_rows_are_byte_identical_to_the_old_template(
        client_for, alice, integrex):
    batch = Batch.objects.create(kind="discovery", facility=integrex.facilities.first(),
                                 connection=integrex, created_by=alice, filename="d.csv")
    tickets = _tickets(integrex, "discovery", 60, batch=batch)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[::3]]).update(outcome="found")
    response = client_for(alice).get(reverse("eligibility:home"))
    new, old = _drawn_both_ways(response, "eligibility/home.html")
    assert _rows_part(new) == _rows_part(old)
    assert f">#{batch.pk}</a>" in new


@pytest.mark.django_db
def test_payer_claims_list_rows_are_byte_identical_to_the_old_template(
        client_for, alice, payer, encounter):
    for i in range(3):
        PayerClaim.objects.create(
            connection=payer, facility=payer.facilities.first(), encounter=encounter,
            reference=f"REF{i}", account_number=f"A{i}", patient_name=f"PAT {i}",
            amount=Decimal("10.50"), created_by=alice)
    response = client_for(alice).get(reverse("payer:list"))
    new, old = _drawn_both_ways(response, "payer/list.html")
    assert _rows_part(new) == _rows_part(old)
    assert "REF2</a>" in new


@pytest.mark.django_db
def test_batch_page_rows_are_byte_identical_to_the_old_template(client_for, alice, integrex):
    batch = Batch.objects.create(kind="claim_status", facility=integrex.facilities.first(),
                                 connection=integrex, created_by=alice, filename="b.csv",
                                 total_rows=30, ticket_count=30)
    _tickets(integrex, "claim_status", 30, batch=batch)
    response = client_for(alice).get(reverse("claims:batch_detail", args=[batch.pk]))
    new, old = _drawn_both_ways(response, "batches/detail.html")
    assert _rows_part(new) == _rows_part(old)
    assert new.count('title="Lookup #') == 30


@pytest.mark.django_db
def test_followup_worklist_rows_are_byte_identical_to_the_old_template(
        client_for, alice, integrex, encounter):
    tickets = _tickets(integrex, "claim_status", 20)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[::2]]).update(encounter=encounter)
    response = client_for(alice).get(reverse("followup:worklist"))
    new, old = _drawn_both_ways(response, "followup/worklist.html")
    assert _rows_part(new) == _rows_part(old)
    assert reverse("followup:account", args=[encounter.pk]) in new
