"""One answer for every export: CSV, or .xlsx when the link asks for `?format=xlsx`.

Both formats take the same rows from the same generators, so SSN masking, formula
neutralisation (csvio.safe_cell) and the caller's audit record are the same in each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from revcycle import csvio, xlsxio

XLSX = "xlsx"


def wants_xlsx(request: HttpRequest) -> bool:
    return request.GET.get("format") == XLSX


def table(request: HttpRequest, stem: str, header: Sequence[str],
          rows: Iterable[Sequence[Any]], *, title: str = "Rows",
          kinds: dict[str, str] | None = None) -> HttpResponseBase:
    """`stem`.csv or `stem`.xlsx (one sheet named `title`) with `rows` under `header`."""
    if wants_xlsx(request):
        return xlsxio.xlsx_response(f"{stem}.xlsx",
                                    [xlsxio.Sheet(title, header, rows, kinds or {})])
    return csvio.stream_csv(f"{stem}.csv", header, rows)


def workbook(request: HttpRequest, stem: str, sheets: Sequence[xlsxio.Sheet],
             csv_header: Sequence[str], csv_rows: Iterable[Sequence[Any]]) -> HttpResponseBase:
    """Several sheets in .xlsx; the CSV, one table, says in a column what each row is."""
    if wants_xlsx(request):
        return xlsxio.xlsx_response(f"{stem}.xlsx", sheets)
    return csvio.stream_csv(f"{stem}.csv", csv_header, csv_rows)
