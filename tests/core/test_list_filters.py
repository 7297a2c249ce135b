"""Every filtered list reads its query string once, through its FilterSet: a filter means
the same on the page and in the CSV export, and a bad value is ignored with a note, never
a 500 (security issue, defect 11)."""

from __future__ import annotations

import html
from typing import Any

import pytest

from revcycle.models import Ticket
from tests.core.lists import FilteredList, all_lists, ids_in_export, ids_on_page

NAMES = ["claim status", "discovery", "payer claims", "worklist", "audit log"]
BAD_VALUES = ["NaN", "Infinity", "1e999", "9" * 30, "2024-13-45", "-1", "<script>"]


def _list(name: str) -> FilteredList:
    return next(lst for lst in all_lists() if lst.name == name)


@pytest.fixture
def signed_in(client_for: Any, maya: Any, st_marys: Any, integrex: Any, payer: Any) -> Any:
    """maya (a manager) sees every list and may export; the fixtures make the rows."""
    return client_for(maya), {"st_marys": st_marys, "integrex": integrex, "payer": payer}


@pytest.mark.parametrize("name", NAMES)
def test_a_valid_filter_keeps_the_same_rows_on_the_page_and_in_the_export(
        signed_in: Any, name: str) -> None:
    client, fixtures = signed_in
    lst = _list(name)
    lst.make_rows(fixtures)
    n = {"claim status": 1, "discovery": 2, "payer claims": 3, "worklist": 4,
         "audit log": 5}[name]
    assert ids_on_page(client.get(lst.url)) == {f"KEEP{n}", f"DROP{n}"}

    page, export = client.get(lst.url, lst.valid), client.get(lst.export_url, lst.valid)

    assert page.status_code == 200 and export.status_code == 200
    assert ids_on_page(page) == {f"KEEP{n}"}
    assert ids_in_export(export) == {f"KEEP{n}"}


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("name", NAMES)
def test_bad_values_are_ignored_with_a_note_and_the_rows_left_unfiltered(
        signed_in: Any, name: str, value: str) -> None:
    client, fixtures = signed_in
    lst = _list(name)
    lst.make_rows(fixtures)
    params = dict.fromkeys(lst.typed, value)

    page, export = client.get(lst.url, params), client.get(lst.export_url, params)

    assert page.status_code == 200 and export.status_code == 200
    text = html.unescape(page.content.decode())
    assert text.count("Ignored the ") == len(lst.typed), text
    ids = ids_on_page(page)
    assert len(ids) == 2 and ids_in_export(export) == ids


def test_the_note_names_the_filter_and_says_what_to_enter(signed_in: Any) -> None:
    client, fixtures = signed_in
    lst = _list("worklist")
    lst.make_rows(fixtures)
    page = client.get(lst.url, {"amount_min": "NaN", "amount_max": "200"})
    text = html.unescape(page.content.decode())
    assert "Ignored the filter 'Amount from': enter a number" in text
    assert ids_on_page(page) == {"DROP4"}  # the valid filter still applies


@pytest.mark.parametrize("cursor", ["NaN~1", "Infinity~1", "1e999~1", "5~" + "9" * 30,
                                    "2024-13-45~1", "abc", "~", "1~-1",
                                    '[0,"NaN",1]', '[0,"Infinity",1]', '[0,"1e999",1]',
                                    '[0,"5",' + "9" * 30 + "]", '[0,"5",-1]', '[0,"5"]',
                                    '[0,"5\\u0000",1]', '[0,null,1]'])
def test_a_crafted_worklist_cursor_starts_from_the_first_page(signed_in: Any,
                                                               cursor: str) -> None:
    client, fixtures = signed_in
    lst = _list("worklist")
    lst.make_rows(fixtures)
    page = client.get(lst.url, {"sort": "-amount", "after": cursor})
    assert page.status_code == 200
    assert ids_on_page(page) == {"KEEP4", "DROP4"}
    assert "Ignored the page position" in page.content.decode()


def test_a_valid_worklist_cursor_still_turns_the_page(signed_in: Any) -> None:
    client, fixtures = signed_in
    lst = _list("worklist")
    lst.make_rows(fixtures)
    keep = Ticket.objects.get(account_number="KEEP4")
    # The cursor revcycle.paging writes: the position, then the row's sort key and id.
    second = client.get(lst.url, {"sort": "-amount", "after": f'[1,"500.00",{keep.pk}]'})
    assert ids_on_page(second) == {"DROP4"}
    assert "Ignored" not in second.content.decode()
