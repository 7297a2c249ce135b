"""Every domain's batch page numbers its rows by their line in the uploaded file (the header
is line 1), as its list of invalid rows does: line 3 on screen is line 3 in the file."""

from __future__ import annotations

import re
from typing import Any

import pytest

from claims.export import SPEC as CLAIM_STATUS
from eligibility.batch import SPEC as DISCOVERY
from payer.batch import SPEC as PAYER
from revcycle.batches import create_batch
from tests.claims.test_batches import HEADER as CLAIM_HEADER
from tests.claims.test_batches import row as claim_row

# Each file: line 2 invalid, line 3 a good row, line 4 a duplicate of line 3, line 5 good.
FILES = {
    "claim_status": "\n".join([
        CLAIM_HEADER, claim_row(1, dob="1970-13-02"), claim_row(2), claim_row(2),
        claim_row(3)]) + "\n",
    "discovery": """\
patientFirstName,patientLastName,patientDob,patientGender,SSN,beginDos,Region,Account
BAD,DATE,1980-13-06,M,,2026-10-02,CA,ACC1003
JANE,DOE,1970-01-02,F,123-45-6789,2026-10-01,CA,ACC1001
JANE,DOE,1970-01-02,F,123-45-6789,2026-10-01,CA,ACC1001
JOHN,ROE,1980-05-06,M,,2026-10-02,CA,ACC1002
""",
    "payer_claim": """\
patient_name,insurance_id,diagnosis_code,amount,procedure_code,date_of_service,patient_id
JOHN ROE,BC-123-456,E11,300.00,99213,2026-01-05,ACC1002
JANE DOE,BC-789-456,J20.9,1250.00,99213,2026-01-05,ACC1001
JANE DOE,BC-789-456,J20.9,1250.00,99213,2026-01-05,ACC1001
AMY POE,BC-999-999,N39.0,90.00,,2026-01-05,ACC1003
""",
}
CASES = [(CLAIM_STATUS, "integrex", "/claims/status/batches/"),
         (DISCOVERY, "integrex", "/eligibility/batches/"),
         (PAYER, "payer", "/claims/payer/batches/")]


def _first_cells(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}".*?</table>', html, flags=re.S)
    assert table, table_id
    rows = re.findall(r"<tr data-ticket[^>]*>\s*<td[^>]*>(.*?)</td>", table.group(0), re.S)
    return [re.sub(r"<[^>]*>", "", cell).strip() for cell in rows]


@pytest.mark.parametrize(("spec", "connection", "url"), CASES,
                         ids=[c[0].kind for c in CASES])
def test_batch_rows_and_errors_carry_their_line_in_the_file(
        client_for: Any, maya: Any, st_marys: Any, request: Any, spec: Any,
        connection: str, url: str) -> None:
    conn = request.getfixturevalue(connection)
    batch = create_batch(spec, facility=st_marys, connection=conn, user=maya,
                         filename="rows.csv", text=FILES[spec.kind])
    assert (batch.ticket_count, batch.invalid_rows, batch.duplicate_rows) == (2, 1, 1)

    text = client_for(maya).get(f"{url}{batch.pk}/").content.decode()
    assert _first_cells(text, "batch-rows") == ["3", "5"]
    assert re.search(r'<tr><td class="num">2</td><td>', text)  # the invalid row, line 2
