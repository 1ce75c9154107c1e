"""Erase one debtor: their personal data goes from the store, the recordings on disk and Redis.

What stays, and why:

- the guard ledger's decisions, with the account id and the number replaced by a pseudonym
  (``erased-<hash>``): the decisions and their reasons are the compliance record, and their
  count is what the caps were computed from;
- suppression lists (``suppressions``, ``suppression_events``): a request not to be called is
  kept by law, by number, whoever's it was;
- the console's audit log, which is append-only: it gets one row saying who erased which
  account id and when, without the name or the number.

Rows are found through the schema itself: every table with an ``attempt_id`` column loses the
account's attempts' rows, every table with an ``account_id`` column the account's rows, in
foreign-key order.  A table added later is covered without being listed here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Executable, Table, delete, select, update
from sqlalchemy.orm import Session

from dialer.store.base import Base
from dialer.store.models import Account, CallAttempt
from dialer.store.models.guards import GuardDecisionRow
from dialer.store.models.transcripts import CallRecording
from foundation.errors import InputError
from foundation.log import kv

log = logging.getLogger(__name__)

# Kept by law or append-only by design (see the module's docstring); the ledger is anonymized.
KEPT_TABLES = frozenset(
    {
        "suppressions",
        "suppression_events",
        "console_audit",
        "console_audit_head",
        "console_audit_prune",
        "guard_outcomes",  # attempt ids and booleans only
    }
)
ANONYMIZED_TABLES = frozenset({"guard_decisions"})
REDIS_SCAN_COUNT = 1000


def pseudonym(value: str) -> str:
    """A stable stand-in for an erased id or number: the same input always maps to the same one."""
    return "erased-" + hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass
class ErasedAccount:
    """What was found about the account before its rows went: what to remove outside the store."""

    account_id: str
    numbers: tuple[str, ...]
    names: tuple[str, ...]
    attempt_ids: tuple[str, ...]
    audio_paths: tuple[str, ...]
    rows: dict[str, int] = field(default_factory=dict)  # table → rows deleted
    anonymized: int = 0  # ledger decisions kept under a pseudonym
    files: int = 0
    redis_keys: int = 0
    stream_entries: int = 0

    @property
    def terms(self) -> tuple[str, ...]:
        """Strings whose presence marks a Redis key or entry as this debtor's."""
        digits = tuple(n.lstrip("+") for n in self.numbers)
        return tuple(t for t in (self.account_id, *self.numbers, *digits, *self.attempt_ids) if t)

    def lines(self) -> list[str]:
        deleted = ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items()) if n) or "none"
        return [
            f"erased account {self.account_id}",
            f"rows deleted: {deleted}",
            f"guard ledger decisions kept under a pseudonym: {self.anonymized}",
            f"recording files deleted: {self.files}",
            f"Redis: {self.redis_keys} keys and {self.stream_entries} live-stream entries deleted",
        ]


def erase_rows(db: Session, account_id: str) -> ErasedAccount:
    """Delete the account's rows and anonymize its ledger decisions in ``db``'s transaction."""
    account = db.get(Account, account_id)
    if account is None:
        raise InputError(f"no account {account_id!r} in the database", "check the id (duncall accounts show)")
    attempts = tuple(db.scalars(select(CallAttempt.attempt_id).where(CallAttempt.account_id == account_id)))
    audio = tuple(
        p
        for p in db.scalars(select(CallRecording.audio_path).where(CallRecording.attempt_id.in_(attempts)))
        if p
    )
    found = ErasedAccount(
        account_id,
        tuple(p.number for p in account.phones),
        tuple(n for n in (account.first_name, account.last_name) if n),
        attempts,
        audio,
    )
    db.expunge_all()  # the rows go by SQL below; no stale objects may be flushed over them
    d = GuardDecisionRow
    # Every number the ledger holds for the account, on it today or not: all get pseudonyms.
    ledger_numbers = set(db.scalars(select(d.phone).where(d.account_id == account_id).distinct()))
    for number in ledger_numbers:
        found.anonymized += _run(
            db,
            update(d)
            .where(d.account_id == account_id, d.phone == number)
            .values(account_id=pseudonym(account_id), phone=pseudonym(number)),
        )
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in KEPT_TABLES or table.name in ANONYMIZED_TABLES:
            continue
        n = _delete_from(db, table, account_id, attempts)
        if n:
            found.rows[table.name] = n
    return found


def _delete_from(db: Session, table: Table, account_id: str, attempts: Sequence[str]) -> int:
    n = 0
    if "attempt_id" in table.c and attempts:
        n += _run(db, delete(table).where(table.c.attempt_id.in_(attempts)))
    if "account_id" in table.c:
        n += _run(db, delete(table).where(table.c.account_id == account_id))
    return n


def _run(db: Session, statement: Executable) -> int:
    """Rows the statement changed (0 when the driver cannot say)."""
    result = db.execute(statement)
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def erase_files(found: ErasedAccount, recordings_dirs: Iterable[Path]) -> None:
    """The recordings: the paths the store named, and any file named after one of the attempts."""
    candidates = {Path(p) for p in found.audio_paths}
    for folder in recordings_dirs:
        if folder.is_dir():
            candidates |= {f for f in folder.rglob("*") if any(a in f.name for a in found.attempt_ids)}
    for path in candidates:
        try:
            if path.is_file():
                path.unlink()
                found.files += 1
        except OSError:
            log.error("recording not deleted", extra=kv(attempt_file=path.name))


def erase_redis(found: ErasedAccount, client: redis.Redis, prefixes: Sequence[str]) -> None:
    """Keys under ``prefixes`` named after the debtor go; values and stream entries naming them go.

    A key matches on a whole ``:``-separated part (``…:acct:A-1:att`` is A-1's, not A-10's); a
    value on a quoted JSON string equal to an id, number or attempt, or on the debtor's name."""
    ids = set(found.terms)
    needles = [f'"{t}"' for t in found.terms] + list(found.names)
    for prefix in prefixes:
        for raw in client.scan_iter(match=f"{prefix}*", count=REDIS_SCAN_COUNT):
            key = _text(raw)
            if ids & set(key.split(":")):
                found.redis_keys += int(client.delete(key))
                continue
            kind = _text(client.type(key))
            if kind == "stream":
                found.stream_entries += _erase_stream(client, key, needles)
            elif kind == "string":
                value = _text(client.get(key) or b"")
                if any(t in value for t in needles):
                    found.redis_keys += int(client.delete(key))
            elif kind == "hash":
                mapping: dict[Any, Any] = client.hgetall(key)
                values = " ".join(f"{_text(k)}={_text(v)}" for k, v in mapping.items())
                if any(t in values for t in needles):
                    found.redis_keys += int(client.delete(key))


def _erase_stream(client: redis.Redis, key: str, terms: Sequence[str]) -> int:
    gone: list[Any] = []
    entries: list[Any] = client.xrange(key)  # type: ignore[assignment]
    for entry_id, fields in entries:
        blob = " ".join(f"{_text(k)}={_text(v)}" for k, v in fields.items())
        if any(t in blob for t in terms):
            gone.append(entry_id)
    if gone:
        client.xdel(key, *gone)
    return len(gone)
