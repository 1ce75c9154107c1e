"""Text for CSV cells that a spreadsheet opens as text, never as a formula.

OWASP's CSV-injection rule: a cell whose first character is ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return may be evaluated by Excel, LibreOffice or Google Sheets
(``=1+HYPERLINK(...)``, ``@SUM(...)``, ``-1+1``), so such a cell is prefixed with a
single quote. Every string is treated this way, digits after the sign included: a
debtor-supplied ``-1+cmd|...`` must not run because it happens to start like a number.
Numbers the program produced itself (ints, floats, Decimals) are written as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """``text``, prefixed with ``'`` when a spreadsheet would read it as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def safe_cell(value: Any) -> str:
    """One CSV cell: None is empty, lists are ``;``-joined, datetimes ISO 8601, text made safe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        # Joined first, then made safe: the joined text is what the spreadsheet sees.
        return safe_text(";".join(str(v) for v in value))
    return safe_text(str(value))


def safe_row(values: Iterable[Any]) -> list[str]:
    return [safe_cell(v) for v in values]
