"""Import a list of numbers (a national registry extract, a client's list) onto one named list.

The file is CSV: a number per row, optionally a date (``YYYY-MM-DD``: when the
number was listed, disconnected or reassigned).  A first row whose first cell is
``number`` or ``phone`` is a header naming the columns.  Bad rows are reported
with their line and reason and the good rows stored, all in one transaction: a
file that cannot be read, or a failure while writing, stores nothing.
Re-importing the same file changes nothing; a number an operator cleared stays
cleared unless the file reports it again with a later date.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from dialer.policy.suppression import SuppressionKind
from dialer.store.models.suppression import Suppression, SuppressionEvent
from dialer.suppression.lists import check_list_kind
from dialer.suppression.numbers import e164
from foundation.errors import InputError

CHUNK = 5000
_HEADER_NUMBER = {"number", "phone", "phone_number"}
_HEADER_DATE = {"date", "reported_on", "listed_on"}


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int
    reason: str

    def one_line(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ImportSummary:
    file: str
    list_name: str
    rows: int = 0
    added: int = 0
    updated: int = 0  # a later date, or a cleared number reported again
    unchanged: int = 0
    rejected: int = 0

    def one_line(self) -> str:
        return (
            f"{self.file}: {self.rows} rows onto list {self.list_name}: {self.added} added, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected"
        )


def _read(
    path: Path, kind: SuppressionKind, region: str | None, today: dt.date, reject: Callable[[int, str], None]
) -> tuple[int, dict[str, dt.date | None]]:
    """Rows read and the good numbers with their (latest) date; bad rows go to ``reject``."""
    numbers: dict[str, dt.date | None] = {}
    rows = 0
    date_col: int | None = 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for line_no, row in enumerate(csv.reader(handle), start=1):
                cells = [c.strip() for c in row]
                if not any(cells):
                    continue
                if line_no == 1 and cells[0].lower() in _HEADER_NUMBER:
                    names = [c.lower() for c in cells]
                    date_col = next((i for i, n in enumerate(names) if n in _HEADER_DATE), None)
                    continue
                rows += 1
                try:
                    number = e164(cells[0], region)
                    raw = cells[date_col] if date_col is not None and date_col < len(cells) else ""
                    when = _date(raw, today) if raw else None
                except ValueError as exc:
                    reject(line_no, str(exc))
                    continue
                if when is None and kind is not SuppressionKind.DNC:
                    reject(line_no, f"no date: a {kind.value} report needs the date it was reported")
                    continue
                earlier = numbers.get(number)
                numbers[number] = (
                    when if earlier is None or (when is not None and when > earlier) else earlier
                )
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file", "export the list as UTF-8 CSV") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not readable as CSV ({exc})", "export the list as CSV") from None
    return rows, numbers


def _date(raw: str, today: dt.date) -> dt.date:
    try:
        when = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"date {raw!r} is not YYYY-MM-DD") from None
    if when > today:
        raise ValueError(f"date {raw} is in the future")
    return when


def import_file(
    engine: Engine,
    path: Path,
    *,
    list_name: str,
    source: str,
    by: str,
    now: dt.datetime,
    kind: SuppressionKind = SuppressionKind.DNC,
    region: str | None = None,
    on_reject: Callable[[RowError], None] | None = None,
) -> ImportSummary:
    if not path.is_file():
        raise InputError(f"{path}: no such file", "give the path of a CSV file of numbers")
    if not source.strip():
        raise InputError("--source is empty", "say where the list came from, e.g. 'FCC RND extract 2026-12'")
    summary = ImportSummary(str(path), list_name)

    def reject(line: int, reason: str) -> None:
        summary.rejected += 1
        if on_reject is not None:
            on_reject(RowError(str(path), line, reason))

    summary.rows, numbers = _read(path, kind, region, now.date(), reject)
    reason = f"imported from {path.name}"
    with Session(engine) as s, s.begin():
        check_list_kind(s, list_name, kind)
        existing = {
            number: (reported_on, cleared_at)
            for number, reported_on, cleared_at in s.execute(
                select(Suppression.number, Suppression.reported_on, Suppression.cleared_at).where(
                    Suppression.list_name == list_name
                )
            )
        }
        new = []
        for number, when in numbers.items():
            known = existing.get(number)
            if known is None:
                new.append(
                    {
                        "number": number,
                        "list_name": list_name,
                        "kind": kind.value,
                        "source": source,
                        "reported_on": when,
                        "reason": reason,
                        "added_at": now,
                        "added_by": by,
                    }
                )
                continue
            stored_on, cleared_at = known
            if when is None or (stored_on is not None and when <= stored_on):
                summary.unchanged += 1
                continue
            # Reported again, later than what we hold: a cleared number is suppressed again.
            s.execute(
                update(Suppression)
                .where(Suppression.number == number, Suppression.list_name == list_name)
                .values(
                    reported_on=when,
                    source=source,
                    reason=reason,
                    cleared_at=None,
                    cleared_by=None,
                    cleared_reason=None,
                    **({"added_at": now, "added_by": by} if cleared_at is not None else {}),
                )
            )
            if cleared_at is not None:
                s.add(
                    SuppressionEvent(
                        number=number, list_name=list_name, action="import", at=now, by=by, reason=reason
                    )
                )
            summary.updated += 1
        for start in range(0, len(new), CHUNK):
            s.execute(insert(Suppression), new[start : start + CHUNK])
        summary.added = len(new)
    return summary
