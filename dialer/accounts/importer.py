"""Stream an account file into the store: validate, batch, upsert.

Each batch is one transaction: accounts are upserted (``INSERT … ON CONFLICT
DO UPDATE``), their phones and import-set flags replaced.  A crash or a failed
batch therefore never leaves a half-written batch behind, and re-running the
same file converges on the same rows.  Flags a call set (dispute, stop
calling, …) survive a re-import: only rows with ``source = 'import'`` are
replaced.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, Insert, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from dialer.accounts import records
from dialer.accounts.records import AccountRecord
from dialer.accounts.sources import ProgressFn, Row, open_rows
from dialer.store.models import Account, AccountFlagRow, Creditor, FlagSource, Phone
from foundation.errors import ConfigError
from foundation.log import kv

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2_000
# SQLite allows 32,766 bound parameters per statement; IN lists of a batch's ids stay far below it.
MAX_BATCH_SIZE = 10_000
# Files above this size validate rows in worker processes; below it, starting them costs more than it saves.
PARALLEL_FROM_BYTES = 8_000_000
MAX_WORKERS = 4


@dataclass(frozen=True, slots=True)
class Reject:
    file: str
    line: int
    account_id: str | None
    reason: str

    def one_line(self) -> str:
        who = f" account {self.account_id}" if self.account_id else ""
        return f"{self.file}:{self.line}:{who} {self.reason}"


@dataclass(slots=True)
class ImportSummary:
    file: str
    rows: int = 0  # data rows read (blank lines excluded)
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    batches: int = 0
    rejects_sample: list[Reject] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.inserted + self.updated

    def one_line(self) -> str:
        return (
            f"{self.file}: {self.rows} rows read, {self.imported} imported "
            f"({self.inserted} new, {self.updated} updated), {self.rejected} rejected"
        )


RejectSink = Callable[[Reject], None]


def import_file(
    engine: Engine,
    path: Path,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    default_region: str | None = None,
    on_reject: RejectSink | None = None,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> ImportSummary:
    """Import ``path`` into ``engine``'s database; every bad row goes to ``on_reject``.

    ``workers``: processes validating rows (0: none, in this process); by default one per
    core, up to ``MAX_WORKERS``, for files of ``PARALLEL_FROM_BYTES`` or more.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ConfigError(f"batch size {batch_size} is out of range", f"use 1–{MAX_BATCH_SIZE}")
    if workers is None:
        workers = default_workers(path)
    summary = ImportSummary(file=str(path))
    creditors = creditor_homes(engine)  # a few hundred at most: read once, checked per row
    seen_ids: set[str] = set()  # one str per account: ~100 MB at 1,000,000 rows, the price of exactness

    def reject(row: Row, reason: str) -> None:
        item = Reject(str(path), row.line, row.account_id, reason)
        summary.rejected += 1
        if len(summary.rejects_sample) < 20:
            summary.rejects_sample.append(item)
        if on_reject is not None:
            on_reject(item)

    def good_records(rows: Iterable[Row]) -> Iterator[AccountRecord]:
        for row in rows:
            summary.rows += 1
            if row.record is None:
                reject(row, row.reason or "rejected")
                continue
            creditor = row.record.creditor_id
            if creditor is not None and creditor not in creditors:
                reject(
                    row,
                    f"creditor {creditor!r} is not known: add it first "
                    f"(`duncall creditors add {creditor} --name … --callback-number …`)",
                )
                continue
            if creditor is not None:
                home, abroad_ok = creditors[creditor]
                problem = next(
                    (
                        m
                        for p in row.record.phones
                        if (m := records.abroad_problem(p.number, home, abroad_ok))
                    ),
                    None,
                )
                if problem is not None:
                    reject(row, problem)
                    continue
            if row.record.account_id in seen_ids:
                # The same account twice in one file is ambiguous; neither row silently wins.
                reject(row, "account_id appears earlier in this file; the earlier row was kept")
                continue
            seen_ids.add(row.record.account_id)
            yield row.record

    batch: list[AccountRecord] = []
    rows = open_rows(path, default_region=default_region, progress=progress, workers=workers)
    for record in good_records(rows):
        batch.append(record)
        if len(batch) >= batch_size:
            _write_batch(engine, batch, summary)
            batch = []
    if batch:
        _write_batch(engine, batch, summary)
    log.info(
        "account import finished",
        extra=kv(
            file=str(path),
            rows=summary.rows,
            inserted=summary.inserted,
            updated=summary.updated,
            rejected=summary.rejected,
        ),
    )
    return summary


def creditor_homes(engine: Engine) -> dict[str, tuple[frozenset[str], bool]]:
    """Creditor id → (the countries of its callback number and caller ID, whether it allows
    debtors' numbers abroad)."""
    query = select(
        Creditor.creditor_id, Creditor.callback_number, Creditor.caller_id, Creditor.allow_international
    )
    with engine.connect() as conn:
        return {
            ident: (
                frozenset(r for n in (callback, caller) if n and (r := records.region_of(n))),
                bool(allowed),
            )
            for ident, callback, caller, allowed in conn.execute(query)
        }


def default_workers(path: Path) -> int:
    try:
        size = path.stat().st_size
    except OSError:
        return 0  # open_rows reports the unreadable file
    cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if size >= PARALLEL_FROM_BYTES and cores > 1 else 0


def _write_batch(engine: Engine, batch: list[AccountRecord], summary: ImportSummary) -> None:
    ids = [r.account_id for r in batch]
    with engine.begin() as conn:
        existing = set(conn.scalars(select(Account.account_id).where(Account.account_id.in_(ids))))
        conn.execute(_upsert_accounts(conn), [_account_params(r) for r in batch])
        conn.execute(delete(Phone).where(Phone.account_id.in_(ids)))
        phone_params = [
            {
                "account_id": r.account_id,
                "number": p.number,
                "position": i,
                "phone_type": p.phone_type,
                "ai_voice_consent": p.ai_voice_consent,
                "consent_date": p.consent_date,
                "consent_scope": "+".join(p.consent_scope),
                "contact_type": p.contact_type,
            }
            for r in batch
            for i, p in enumerate(r.phones)
        ]
        if phone_params:
            conn.execute(insert(Phone), phone_params)
        conn.execute(
            delete(AccountFlagRow).where(
                AccountFlagRow.account_id.in_(ids), AccountFlagRow.source == FlagSource.IMPORT.value
            )
        )
        flag_params = [
            {
                "account_id": r.account_id,
                "flag": f,
                "source": FlagSource.IMPORT.value,
                "set_at": None,
                "attempt_id": None,
            }
            for r in batch
            for f in sorted(r.flags)
        ]
        if flag_params:
            # A flag a call already set stays as the call set it (its date and attempt are evidence).
            conn.execute(_insert(conn, AccountFlagRow).on_conflict_do_nothing(), flag_params)
    summary.batches += 1
    summary.updated += len(existing)
    summary.inserted += len(batch) - len(existing)


def _insert(conn: Connection, model: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def _upsert_accounts(conn: Connection) -> Insert:
    stmt = _insert(conn, Account)
    columns = [c.name for c in Account.__table__.columns if c.name != "account_id"]
    upsert: Insert = stmt.on_conflict_do_update(
        index_elements=[Account.account_id], set_={name: stmt.excluded[name] for name in columns}
    )
    return upsert


def _account_params(r: AccountRecord) -> dict[str, Any]:
    return {
        "account_id": r.account_id,
        "first_name": r.first_name,
        "last_name": r.last_name,
        "timezone": r.timezone,
        "language": r.language,
        "balance": r.balance,
        "currency": r.currency,
        "due_date": r.due_date,
        "days_past_due": r.days_past_due,
        "product": r.product,
        "risk_segment": r.risk_segment,
        "payment_history": [{"date": p.date.isoformat(), "amount": str(p.amount)} for p in r.payment_history],
        "creditor_id": r.creditor_id,
        "due_date_derived": r.due_date_derived,
    }


class RejectsFile:
    """Rejects as CSV (file, line, account_id, reason) for a clerk to fix and re-import."""

    def __init__(self, handle: TextIO) -> None:
        self._writer = csv.writer(handle)
        self._writer.writerow(["file", "line", "account_id", "reason"])

    def __call__(self, item: Reject) -> None:
        self._writer.writerow([item.file, item.line, item.account_id or "", item.reason])
