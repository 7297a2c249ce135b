"""Every form that starts from an account names the action "Fill from account" and suggests
the accounts of the user's own facilities, never another facility's."""

from __future__ import annotations

from typing import Any

import pytest

from revcycle.models import Encounter

FORMS = ["/claims/status/new/", "/eligibility/new/", "/claims/payer/new/"]


@pytest.fixture
def lakeside_account(lakeside: Any) -> Encounter:
    return Encounter.objects.create(facility=lakeside, account_number="LAKE-777",
                                    patient_first_name="JOHN", patient_last_name="ROE")


@pytest.mark.parametrize("url", FORMS)
def test_the_form_fills_from_an_account_with_my_facilitys_accounts_suggested(
        client_for: Any, alice: Any, encounter: Any, lakeside_account: Any,
        payer: Any, integrex: Any, url: str) -> None:
    text = client_for(alice).get(url).content.decode()
    assert text.count(">Fill from account</button>") == 1
    assert "Prefill" not in text
    assert 'list="recent-accounts"' in text
    assert '<datalist id="recent-accounts"><option value="ACC1001"></datalist>' in text
    assert "LAKE-777" not in text  # Lakeside's account, not alice's facility


def test_filling_from_an_account_says_so(client_for: Any, alice: Any, encounter: Any,
                                         payer: Any) -> None:
    text = client_for(alice).get("/claims/payer/new/?account=ACC1001").content.decode()
    assert "Filled from account ACC1001" in text
