"""CSV in and out, for every domain: lenient headers on the way in, streamed rows out.

Export rows are produced lazily and written through a pseudo-buffer, so memory stays flat
however many rows leave (Django docs, "Streaming large CSV files")."""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection, transaction
from django.http import StreamingHttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@functools.lru_cache(maxsize=4096)
def normalise_key(key: str) -> str:
    """Compare names with case and punctuation removed: `oop($) IndivInNetwork` and
    `OOP_IndivInNetwork` are the same key; so are `trackingId1` and `Tracking ID 1`."""
    # Cached: lenient_get normalises every key of an answer for each field it reads (the
    # claim-status parser, about 40 fields per service line: 7% of the engine's CPU).
    return re.sub(r"[^a-z0-9]", "", (key or "").lower())


class LenientIndex(dict[str, Any]):
    """A dict's values under their normalised keys, built once for many lenient_get calls:
    each call on a plain dict normalises all its keys again (a claim-status answer is read
    field by field, about 40 fields of about 40 keys per service line)."""

    @classmethod
    def of(cls, data: dict[str, Any]) -> LenientIndex:
        return data if isinstance(data, LenientIndex) else cls(
            (normalise_key(k), v) for k, v in data.items())


def lenient_get(data: dict[str, Any], *names: str, default: Any = "") -> Any:
    """The value of the first of `names` found in `data`, matching keys leniently."""
    index = LenientIndex.of(data)
    for name in names:
        value = index.get(normalise_key(name))
        if value is not None:
            return value
    return default


@dataclass
class Column:
    """A CSV column: its documented name, the form field it fills, and other spellings."""

    name: str
    field: str
    aliases: Sequence[str] = ()
    required: bool = False
    # An SSN: written masked to any file a reader without the full-SSN permission gets.
    ssn: bool = False
    # Misspellings of the specification's own tables: accepted, never shown as help.
    typos: Sequence[str] = ()


class CsvError(ValueError):
    """The file cannot be read as CSV past some line; the message names the line."""


@dataclass
class ParsedCsv:
    fields_by_index: dict[int, str]
    unknown_headers: list[str]
    missing_required: list[str]
    rows: Iterator[tuple[int, dict[str, str]]]
    problems: list[str] = field(default_factory=list)


def decode(upload: IO[bytes] | bytes) -> str:
    raw = upload if isinstance(upload, bytes) else upload.read()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


DELIMITERS = ",;\t|"


def _delimiter(text: str, lookup: dict[str, str]) -> str:
    """The delimiter under which the header names the most known columns (the sniffer's
    guess breaks ties): a header is the one line whose contents we can predict."""
    try:
        guess = csv.Sniffer().sniff(text[:4096], delimiters=DELIMITERS).delimiter
    except csv.Error:
        guess = ","

    def score(delimiter: str) -> tuple[int, int, bool]:
        """(known names, cells, the sniffer's guess) of the header under `delimiter`."""
        try:
            header = next(csv.reader(io.StringIO(text[:65536], newline=""), csv.excel,
                                     delimiter=delimiter), [])
        except csv.Error:
            return (-1, 0, False)
        known = sum(normalise_key(name) in lookup for name in header)
        return (known, len(header), delimiter == guess)

    best = max(DELIMITERS, key=score)
    return best if score(best)[0] > 0 else guess


HEAD_BYTES = 65536  # what the encoding and delimiter are guessed from


def _lookup(columns: Sequence[Column]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for column in columns:
        for name in (column.name, column.field, *column.aliases, *column.typos):
            lookup[normalise_key(name)] = column.field
    return lookup


def read_csv(text: str, columns: Sequence[Column]) -> ParsedCsv:
    """Map the header to columns by name or alias; yield (line number, {field: value})."""
    lookup = _lookup(columns)
    return _parse(io.StringIO(text, newline=""), _delimiter(text, lookup), lookup, columns)


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 in a file whose head was: read them as Windows-1252 (a
    spreadsheet's text pasted into a UTF-8 file), not as replacement characters."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("cp1252", errors="replace"), exc.end


codecs.register_error("revcycle-cp1252", _cp1252_fallback)


def _encoding(head: bytes) -> str:
    """UTF-8 (with or without a BOM) if the first bytes read as UTF-8, else Windows-1252:
    what spreadsheets write. Guessed from the head alone, so the file is never read whole."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def read_upload(upload: IO[bytes], columns: Sequence[Column]) -> ParsedCsv:
    """The rows of an uploaded CSV file, read as a stream: memory stays flat whatever the
    file's size, and a caller that stops early (the row cap) reads no further.

    A workbook is read by revcycle/xlsxio.py (batches.read_file tells them apart)."""
    lookup = _lookup(columns)
    raw = getattr(upload, "file", upload)  # Django's UploadedFile wraps the real file
    raw.seek(0)
    head = raw.read(HEAD_BYTES)
    raw.seek(0)
    encoding = _encoding(head)
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="revcycle-cp1252", newline="")
    delimiter = _delimiter(head.decode(encoding, errors="replace"), lookup)
    return _parse(stream, delimiter, lookup, columns)


def read_head(upload: IO[bytes], columns: Sequence[Column]) -> ParsedCsv:
    """The header of an uploaded CSV from its first bytes alone (a large file's rows are
    read later, by a worker). Its rows are cut at the head's end: read only the header."""
    raw = getattr(upload, "file", upload)
    raw.seek(0)
    head = raw.read(HEAD_BYTES)
    raw.seek(0)
    return read_csv(head.decode(_encoding(head), errors="replace"), columns)


def _parse(stream: IO[str], delimiter: str, lookup: dict[str, str],
           columns: Sequence[Column]) -> ParsedCsv:
    # Only the delimiter varies between spreadsheets; every exporter quotes with ".
    reader = csv.reader(stream, csv.excel, delimiter=delimiter)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a cell over the field limit, a stray NUL byte
                raise CsvError(f"Line {reader.line_num + 1} could not be read ({exc}). "
                               "Check that line in a spreadsheet, then upload again.") from None
            yield reader.line_num, row

    return parse_rows(numbered(), columns, lookup)


def parse_rows(numbered: Iterator[tuple[int, list[str]]], columns: Sequence[Column],
               lookup: dict[str, str] | None = None) -> ParsedCsv:
    """The first row is the header; the rows after it become {field: value}. Every upload
    format (CSV here, .xlsx in revcycle/xlsxio.py) comes through here as (line, cells)."""
    lookup = lookup if lookup is not None else _lookup(columns)
    header = next(numbered, (0, []))[1]
    fields_by_index: dict[int, str] = {}
    unknown: list[str] = []
    for i, name in enumerate(header):
        target = lookup.get(normalise_key(name))
        if target and target not in fields_by_index.values():
            fields_by_index[i] = target
        elif name.strip():
            unknown.append(name.strip())
    present = set(fields_by_index.values())
    missing = [c.name for c in columns if c.required and c.field not in present]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for line, row in numbered:
            if not any(cell.strip() for cell in row):
                continue
            values = {f: (row[i].strip() if i < len(row) else "")
                      for i, f in fields_by_index.items()}
            # A workbook pads rows to the sheet's width: only filled cells are extra.
            if any(cell.strip() for cell in row[len(header):]):
                values["__extra__"] = f"{len(row) - len(header)} more cells than the header"
            yield line, values

    return ParsedCsv(fields_by_index, unknown, missing, rows())


# A spreadsheet starts a formula at the start of a cell, and also at the start of any
# piece it splits the cell into: a locale whose list separator is ";" splits on it, and
# pasting a cell splits on tab and newline. Each such piece is neutralised.
_SEPARATORS = re.compile(r"([;,\t\r\n])")
_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d+)?\s*")


def _is_formula(piece: str) -> bool:
    return piece.lstrip(" ").startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(piece)


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text (CSV injection, OWASP): a `'`
    before a formula start, whether at the cell's start or after `;`, `,`, tab, CR or LF."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    parts = _SEPARATORS.split(value)
    # split() puts the separators at odd indexes; the pieces between them are even.
    parts = [("'" + p if i % 2 == 0 and _is_formula(p) else p) for i, p in enumerate(parts)]
    text = "".join(parts)
    if value.startswith(("\t", "\r")):
        text = "'" + text  # a tab or CR is itself a formula start for some spreadsheets
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Every cell quoted (a quoted cell is never split by a reader's delimiter guess) and
    neutralised. Every export of the app goes through here."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row])


@contextlib.contextmanager
def reading_transaction() -> Iterator[None]:
    """Read an export's rows in one transaction on PostgreSQL.

    Exports stream their rows through `.iterator()`, a server-side cursor. Outside a
    transaction Django declares it WITH HOLD, and each FETCH is a transaction of its own.
    Behind PgBouncer in transaction mode (the README's way to scale out), the next FETCH
    can reach another server connection: "portal ... does not exist", seen with PgBouncer
    1.18 and three other clients. Inside one transaction the cursor stays on its
    connection, and PostgreSQL need not copy the rows aside when the DECLARE commits
    (Django docs, "Transaction pooling and server-side cursors"). SQLite has no such
    cursor, and its transactions here take the write lock at BEGIN (IMMEDIATE): an
    export must not hold the engine's writes for minutes."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        yield


def _in_one_transaction(lines: Iterable[str]) -> Iterator[str]:
    with reading_transaction():
        yield from lines


def stream_csv(filename: str, header: Sequence[str],
               rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_in_one_transaction(csv_lines(header, rows)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def write_csv(path_or_file: Any, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write rows to a file (the headless run_batch); returns the number of data rows."""
    count = 0
    own = isinstance(path_or_file, str)
    handle = open(path_or_file, "w", newline="", encoding="utf-8") if own else path_or_file
    try:
        for i, line in enumerate(_in_one_transaction(csv_lines(header, rows))):
            handle.write(line)
            count = i
    finally:
        if own:
            handle.close()
    return count
