"""Import a payment file (CSV or JSON Lines): each row validated, stored and matched on its own.

Every row is its own transaction: a bad row is reported (line, reason, how to fix)
and changes nothing, the good rows around it are stored.  Re-importing the same
file stores nothing twice (``payment_id`` is the idempotency key).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.payments.ledger import Stored, store_payment
from dialer.payments.records import FIELDS, PaymentError, parse_payment
from dialer.store.models import PaymentSource
from foundation.errors import ConfigError
from foundation.log import kv

log = logging.getLogger(__name__)
REQUIRED = FIELDS


@dataclass(frozen=True, slots=True)
class PaymentReject:
    file: str
    line: int
    payment_id: str | None
    reason: str
    fix: str

    def one_line(self) -> str:
        who = f" payment {self.payment_id}:" if self.payment_id else ""
        return f"{self.file}:{self.line}:{who} {self.reason} ({self.fix})"


@dataclass(slots=True)
class PaymentImportSummary:
    file: str
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    matched: int = 0  # stored payments matched to a promise
    to_instalments: int = 0  # stored payments matched to a plan's instalment
    rejected: int = 0
    rejects: list[PaymentReject] = field(default_factory=list)

    def one_line(self) -> str:
        return (
            f"{self.file}: {self.rows} rows read, {self.stored} payments stored "
            f"({self.matched} matched to a promise, {self.to_instalments} to an instalment), "
            f"{self.duplicates} already stored, "
            f"{self.rejected} rejected"
        )


def import_payments(
    engine: Engine,
    path: Path,
    *,
    received_at: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> PaymentImportSummary:
    """Import ``path``; a problem with the file as a whole is a ``ConfigError`` before any row is stored."""
    summary = PaymentImportSummary(file=str(path))
    for line, fields, problem in _rows(path):
        summary.rows += 1
        pid = fields.get("payment_id") if fields else None
        payment_id = pid.strip() or None if isinstance(pid, str) else None
        if problem is not None:
            summary.rejected += 1
            summary.rejects.append(PaymentReject(str(path), line, payment_id, *problem))
            continue
        try:
            record = parse_payment(fields)
            with Session(engine) as session, session.begin():
                result = store_payment(session, record, source=PaymentSource.FILE, received_at=received_at())
        except PaymentError as exc:
            summary.rejected += 1
            summary.rejects.append(PaymentReject(str(path), line, payment_id, exc.what, exc.fix))
            continue
        if result.outcome is Stored.DUPLICATE:
            summary.duplicates += 1
        else:
            summary.stored += 1
            summary.matched += result.promise_id is not None
            summary.to_instalments += result.instalment_id is not None
    log.info(
        "payment import finished",
        extra=kv(file=str(path), rows=summary.rows, stored=summary.stored, rejected=summary.rejected),
    )
    return summary


Problem = tuple[str, str]  # reason, fix


def _rows(path: Path) -> Iterator[tuple[int, dict[str, object], Problem | None]]:
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl", ".ndjson"}:
        raise ConfigError(
            f"{path}: unknown payment file type {suffix or '(none)'!r}", "name it .csv or .jsonl"
        )
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open ({exc.strerror})", "check the path and permissions") from None
    with handle:
        try:
            if suffix == ".csv":
                yield from _csv_rows(path, handle)
            else:
                yield from _json_rows(handle)
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: is not UTF-8 text", "save the file as UTF-8") from None


def _csv_rows(path: Path, handle: Iterator[str]) -> Iterator[tuple[int, dict[str, object], Problem | None]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{path}: the file is empty", f"start with a header: {','.join(FIELDS)}")
    names = [h.strip() for h in header]
    missing = [f for f in REQUIRED if f not in names]
    unknown = [n for n in names if n not in FIELDS]
    if missing or unknown:
        what = "; ".join(
            part
            for part in (
                f"missing column {', '.join(missing)}" if missing else "",
                f"unknown column {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise ConfigError(f"{path}: {what}", f"the header must be {','.join(FIELDS)}")
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        row: dict[str, object] = dict(zip(names, values, strict=False))
        if len(values) != len(names):
            yield (
                line,
                row,
                (
                    f"{len(values)} values for {len(names)} columns",
                    "quote values that contain a comma",
                ),
            )
            continue
        yield line, row, None


def _json_rows(handle: Iterator[str]) -> Iterator[tuple[int, dict[str, object], Problem | None]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_float=Decimal)  # 0.1 stays the decimal it was written as
        except json.JSONDecodeError as exc:
            yield line, {}, (f"not valid JSON ({exc.msg})", "write one JSON object per line")
            continue
        if not isinstance(obj, dict):
            yield line, {}, ("not a JSON object", 'write one object per line, {"payment_id": …}')
            continue
        yield line, obj, None
