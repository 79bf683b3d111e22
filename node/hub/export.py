"""A dashboard's table as a CSV file Excel opens (UTF-8 with its mark), no cell read as a formula."""

from __future__ import annotations

import csv
import io

from node.hub.dashboard import Table


def csv_bytes(table: Table) -> bytes:
    """UTF-8 with a byte-order mark: Excel on a clerk's PC then reads the Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows([_as_text(cell) for cell in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell):
    """A text cell a spreadsheet would run as a formula (a resident's rating comment `=HYPERLINK(…)`, say)
    gets a leading apostrophe, which makes it plain text; numbers stay numbers."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell
