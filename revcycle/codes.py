"""Code descriptions: look a code up, load the shipped lists, import a licensed official list.

The shipped CSVs (revcycle/data/codes/) describe X12 and CPT codes in our own words,
because X12 and the AMA own the official wording; ICD-10-CM and HCPCS Level II are public
domain. A site that licenses the official lists loads them with `import_codes FILE`.

A code can have several versions, told apart by effective date. `deactivation_date` is the
last day a version applies, as the code lists publish it: R51 stopped on 2020-09-30 and
R51.9 started on 2020-10-01.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TextIO

from django.db import transaction

from revcycle.medcodes import normalise_icd10
from revcycle.models import CodeDescription

SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "codes"
CODE_SETS: tuple[str, ...] = tuple(CodeDescription.CodeSet.values)
# Numeric X12 codes are sometimes sent zero-padded ("035"); the lists write them bare.
NUMERIC_SETS = ("x12_status", "carc")


@dataclass(frozen=True)
class CodeRow:
    code_set: str
    code: str
    description: str
    effective_date: date | None = None
    deactivation_date: date | None = None
    source: str = ""


class CodeImportError(Exception):
    """The file could not be read at all (missing, not text, no usable header)."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.created + self.updated

    def summary(self) -> str:
        return f"{self.created} created, {self.updated} updated, {len(self.skipped)} skipped"


def normalise_code(code_set: str, code: str | None) -> str:
    code = (code or "").strip().upper()
    if code_set == "icd10cm":
        return normalise_icd10(code)
    if code_set in NUMERIC_SETS and code.isdigit():
        return str(int(code))
    return code


# --- lookup --------------------------------------------------------------------------

_Version = tuple[date | None, date | None, str]
_cache: dict[str, dict[str, list[_Version]]] = {}


def clear_cache() -> None:
    _cache.clear()


def _versions(code_set: str) -> dict[str, list[_Version]]:
    """Every version of every code in a set, loaded once per process (a few hundred rows)."""
    if code_set not in _cache:
        table: dict[str, list[_Version]] = {}
        rows = CodeDescription.objects.filter(code_set=code_set).values_list(
            "code", "effective_date", "deactivation_date", "description"
        )
        for code, effective, deactivated, description in rows:
            table.setdefault(code, []).append((effective, deactivated, description))
        for versions in table.values():
            versions.sort(key=lambda v: v[0] or date.min)
        _cache[code_set] = table
    return _cache[code_set]


def describe(code_set: str, code: str | None, on: date | None = None) -> str | None:
    """The description in force on `on` (default today), else the latest version's."""
    versions = _versions(code_set).get(normalise_code(code_set, code))
    if not versions:
        return None
    on = on or date.today()
    in_force = [
        description
        for effective, deactivated, description in versions
        if (effective is None or effective <= on) and (deactivated is None or on <= deactivated)
    ]
    return in_force[-1] if in_force else versions[-1][2]


def label(code_set: str, code: str | None, on: date | None = None) -> str:
    """`CODE: description` for screens and exports; never raises."""
    shown = normalise_code(code_set, code)
    if not shown:
        return ""
    description = describe(code_set, shown, on)
    return f"{shown}: {description or 'no description on file'}"


# --- loading ---------------------------------------------------------------------------


def read_shipped(directory: Path = SHIPPED_DIR) -> Iterator[CodeRow]:
    """The rows of the shipped CSVs; used by the 0003 data migration as well."""
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                yield CodeRow(
                    code_set=row["code_set"],
                    code=row["code"],
                    description=row["description"],
                    effective_date=parse_date(row["effective_date"]),
                    deactivation_date=parse_date(row["deactivation_date"]),
                    source=row["source"],
                )


def upsert(model: Any, rows: Iterable[CodeRow]) -> tuple[int, int]:
    """Create or update rows by (code_set, code, effective_date); returns (created, updated).

    `model` is passed in so a migration can hand over its historical model."""
    created = updated = 0
    with transaction.atomic():
        for row in rows:
            _, was_created = model.objects.update_or_create(
                code_set=row.code_set,
                code=row.code,
                effective_date=row.effective_date,
                defaults={
                    "description": row.description,
                    "deactivation_date": row.deactivation_date,
                    "source": row.source,
                },
            )
            if was_created:
                created += 1
            else:
                updated += 1
    clear_cache()
    return created, updated


def load_shipped(stdout: TextIO | None = None) -> int:
    """Load (or refresh) the shipped descriptions; safe to run any number of times."""
    created, updated = upsert(CodeDescription, read_shipped())
    if stdout is not None:
        stdout.write(f"Shipped code descriptions: {created} created, {updated} updated.\n")
    return created + updated


# --- importing a licensed official list -------------------------------------------------

# Header spellings seen in official downloads and spreadsheets, compared with case,
# spaces and punctuation removed.
HEADER_ALIASES = {
    "code": "code",
    "codevalue": "code",
    "description": "description",
    "desc": "description",
    "longdescription": "description",
    "effectivedate": "effective_date",
    "effective": "effective_date",
    "startdate": "effective_date",
    "start": "effective_date",
    "deactivationdate": "deactivation_date",
    "deactivated": "deactivation_date",
    "stopdate": "deactivation_date",
    "stop": "deactivation_date",
    "enddate": "deactivation_date",
    "terminationdate": "deactivation_date",
    "codeset": "code_set",
}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")


def parse_date(value: str | None) -> date | None:
    """yyyy-mm-dd or mm/dd/yyyy; blank is None; anything else raises ValueError."""
    text = (value or "").strip()
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is neither yyyy-mm-dd nor mm/dd/yyyy")


def _read_text(path_or_file: str | Path | IO[Any]) -> str:
    try:
        if hasattr(path_or_file, "read"):
            data = path_or_file.read()  # type: ignore[union-attr]
        else:
            data = Path(path_or_file).read_bytes()
    except OSError as exc:
        raise CodeImportError(f"Cannot read {path_or_file}: {exc.strerror or exc}.") from exc
    if isinstance(data, str):
        return data
    if b"\x00" in data[:4096]:
        raise CodeImportError("The file is not a CSV text file (it looks binary).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _header_map(fieldnames: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for name in fieldnames or []:
        key = re.sub(r"[^a-z]", "", (name or "").lower())
        if key in HEADER_ALIASES and HEADER_ALIASES[key] not in mapping.values():
            mapping[name] = HEADER_ALIASES[key]
    return mapping


def _row_from(
    values: dict[str, str], code_set: str | None, source: str
) -> tuple[CodeRow | None, str]:
    chosen_set = (code_set or values.get("code_set") or "").strip().lower()
    if chosen_set not in CODE_SETS:
        return None, f"unknown code set {chosen_set!r}; use one of {', '.join(CODE_SETS)}"
    code = normalise_code(chosen_set, values.get("code"))
    description = (values.get("description") or "").strip()
    if not code:
        return None, "no code"
    if len(code) > 20:
        return None, f"code {code[:25]!r}... is longer than 20 characters"
    if not description:
        return None, f"code {code} has no description"
    try:
        effective = parse_date(values.get("effective_date"))
        deactivated = parse_date(values.get("deactivation_date"))
    except ValueError as exc:
        return None, str(exc)
    if effective and deactivated and deactivated < effective:
        return None, f"code {code} stops ({deactivated}) before it starts ({effective})"
    return CodeRow(chosen_set, code, description, effective, deactivated, source), ""


def import_file(
    path_or_file: str | Path | IO[Any], code_set: str | None = None, source: str = ""
) -> ImportReport:
    """Load a licensed official list (CSV: code, description[, effective, deactivation]).

    The code set comes from `code_set` or from a code_set column. Rows that cannot be
    loaded are skipped and reported with their line numbers; the rest are loaded."""
    if code_set is not None and code_set not in CODE_SETS:
        raise CodeImportError(f"Unknown code set {code_set!r}; use one of {', '.join(CODE_SETS)}.")
    name = getattr(path_or_file, "name", path_or_file)
    source = source or f"imported from {Path(str(name)).name}"
    reader = csv.DictReader(io.StringIO(_read_text(path_or_file)))
    mapping = _header_map(reader.fieldnames)
    missing = {"code", "description"} - set(mapping.values())
    if code_set is None and "code_set" not in mapping.values():
        missing.add("code_set (or give the code set)")
    if missing:
        raise CodeImportError(
            f"The header has no {' or '.join(sorted(missing))} column; "
            f"it has: {', '.join(reader.fieldnames or []) or 'nothing'}."
        )

    report = ImportReport()
    rows: list[CodeRow] = []
    for raw in reader:
        values = {ours: (raw.get(theirs) or "") for theirs, ours in mapping.items()}
        if not any(v.strip() for v in values.values()):
            continue
        row, reason = _row_from(values, code_set, source)
        if row is None:
            report.skipped.append((reader.line_num, reason))
        else:
            rows.append(row)
    report.created, report.updated = upsert(CodeDescription, rows)
    return report
