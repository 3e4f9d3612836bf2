"""CSV that a spreadsheet opens as data: no cell the grader writes can run as a formula."""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Iterable

# Spreadsheets read a cell starting with one of these as a formula (or a DDE call); full-width forms too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%", "＝", "＋", "－", "＠")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def cell(value: Any) -> str:
    """Return `value` as a CSV cell: numbers as they are, text that could start a formula behind a `'`."""
    text = value if isinstance(value, str) else str(value)
    if isinstance(value, (int, float)) or NUMBER.fullmatch(text):
        return text
    return "'" + text if text.lstrip(" ").startswith(FORMULA_START) else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Return the CSV text of `rows`, every cell neutralised with `cell` (RFC 4180 line ends, so that a cell
    holding a carriage return or a newline is quoted and can never start a row of its own)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([cell(v) for v in row] for row in rows)
    return buf.getvalue()
