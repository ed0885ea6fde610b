"""CSV that spreadsheets open safely and that comes back from them readable.

Writing: a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some spreadsheets skip before such a character) is a formula to Excel,
LibreOffice and Google Sheets, and a generated question or a source context may start that
way. Such a cell is written with a leading apostrophe, which spreadsheets show as text and
``read_rows`` removes again.

Reading: a sheet saved back by Excel may carry a UTF-8 byte-order mark and, in locales with
a decimal comma, ``;`` as its separator; both are recognised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SEPARATORS = ",;\t"


class SpreadsheetError(ValueError):
    """A CSV file cannot be read; names the file and the row."""


def neutralise_cell(value: object) -> object:
    """``value`` with a leading apostrophe when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """Undo ``neutralise_cell``: the apostrophe before a formula character is removed."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    return [neutralise_cell(value) for value in values]


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for each data row of a CSV file with a header row.

    Row numbers count the header as row 1, as a spreadsheet does. A BOM is dropped, the
    separator (``,``, ``;`` or tab) is taken from the header line, cells are stripped of a
    neutralising apostrophe.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = path.read_bytes().count(b"\n", 0, error.start) + 1
        raise SpreadsheetError(
            f"{path} row {line}: not UTF-8 text (byte 0x{error.object[error.start]:02x}); "
            "save the sheet as 'CSV UTF-8'"
        ) from error
    header_line = text.split("\n", 1)[0]
    separator = max(SEPARATORS, key=header_line.count) if header_line.strip() else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(reader)
    except StopIteration:
        raise SpreadsheetError(f"{path}: the file is empty (no header row)") from None
    header = [name.strip() for name in header]
    try:
        for rowno, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                raise SpreadsheetError(
                    f"{path} row {rowno}: {len(cells)} cells but the header has {len(header)}"
                )
            cells = [restore_cell(cell) for cell in cells] + [""] * (len(header) - len(cells))
            yield rowno, dict(zip(header, cells, strict=True))
    except csv.Error as error:
        raise SpreadsheetError(f"{path} row {reader.line_num}: not CSV ({error})") from error
