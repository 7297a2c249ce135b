"""Every export offers .xlsx: the worklist's, with typed cells, neutralised text and the
same audit record as its CSV."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest
from django.urls import reverse

from revcycle.models import AuditEvent
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


def test_the_worklist_exports_to_xlsx_with_typed_cells_and_an_audit_record(
        client_for, maya, integrex):
    make_ticket(integrex, amount="1250.00", service_date=date(2026, 10, 1),
                account="00123", patient="=HYPERLINK(1)")
    response = client_for(maya).get(reverse("followup:worklist_export"), {"format": "xlsx"})
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, sheet[2], strict=True))
    assert row["amount"].value == 1250 and row["amount"].number_format == "#,##0.00"
    assert row["service_date"].value == datetime(2026, 10, 1)
    assert row["account"].value == "00123" and row["account"].data_type == "s"
    assert row["patient"].value.startswith("'=")
    assert AuditEvent.objects.filter(action="export").count() == 1
