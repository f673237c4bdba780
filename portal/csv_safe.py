"""CSV that spreadsheets open safely: no cell is ever read as a formula. Shared by the portal's exports and the API."""

from __future__ import annotations

#: A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: written before the header: the byte-order mark makes Excel read UTF-8
BOM = "\ufeff"


class Line:
    """A file-like object whose ``write`` hands back the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a leading apostrophe makes the cell plain text."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value
