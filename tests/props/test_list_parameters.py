"""Crafted query strings on every filtered list and its export: whatever the text in
whichever known parameter, the answer is never a 5xx (security issue, defect 11)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.lists import all_lists

ODD = ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "9" * 30, "9" * 5000, "2024-13-45",
       "-1", "0", "<script>", "\x00", "1,234.50", "$12", "2024-02-30", "~", "5~9", "1.5",
       " ", "me", "none", "open"]
values = st.text(max_size=40) | st.sampled_from(ODD)
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
# Names, not the lists: their URLs are reversed inside the test, once Django is set up.
TARGETS = [(n, w) for n in ("claim status", "discovery", "payer claims", "worklist",
                            "audit log") for w in ("page", "export")]


@pytest.mark.parametrize(("name", "which"), TARGETS)
def test_no_query_string_makes_a_list_or_its_export_fail(
        client_for: Any, maya: Any, st_marys: Any, integrex: Any, payer: Any, name: str,
        which: str) -> None:
    lst = next(lst for lst in all_lists() if lst.name == name)
    lst.make_rows({"st_marys": st_marys, "integrex": integrex, "payer": payer})
    client = client_for(maya)
    url = lst.url if which == "page" else lst.export_url

    @FUZZ
    @given(params=st.dictionaries(st.sampled_from(lst.parameters), values, max_size=6),
           htmx=st.booleans())
    def check(params: dict[str, str], htmx: bool) -> None:
        headers = {"HX-Request": "true"} if htmx and which == "page" else {}
        response = client.get(url, params, headers=headers)
        if response.streaming:
            b"".join(response.streaming_content)  # the rows are read while streaming
        assert response.status_code < 500, (params, response.status_code)

    check()
