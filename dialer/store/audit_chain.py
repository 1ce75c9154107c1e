"""Checking the audit log's hash chain: ``duncall audit verify``.

The chain is written by ``dialer.store.models.console`` (a mapper event on every audit
insert) and hashed as ``dialer.store.audit_hash`` says. Verification walks every row in
``seq`` order and stops at the first that does not fit: a changed row (its hash no longer
matches its content), a removed one (a gap in ``seq`` or a previous-hash that points
elsewhere), a row added behind the chain's back (no link at all), or rows cut from the end
(the head names a later row than the last one left).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.store.audit_hash import GENESIS, link_hash
from dialer.store.models.console import AuditEntry, AuditHead, AuditPrune
from foundation.errors import DuncallError

BATCH_ROWS = 1000


class AuditChainBroken(DuncallError):
    """The audit log was changed outside the application: the first link that does not hold."""


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows: int
    first_seq: int  # 1, or the first row after a recorded retention purge
    last_seq: int

    def line(self) -> str:
        pruned = f", rows before {self.first_seq} pruned by retention" if self.first_seq > 1 else ""
        return f"ok {self.rows} rows{pruned}"


def _broken(row: AuditEntry, why: str) -> AuditChainBroken:
    return AuditChainBroken(
        f"audit chain broken at seq {row.seq} (id {row.id}, {row.action} by {row.user_name} at "
        f"{row.at:%Y-%m-%d %H:%M:%S}): {why}",
        "the audit table was changed outside duncall; keep a copy of the database as evidence and "
        "compare it with a backup",
    )


def verify(db: Session) -> ChainReport:
    """Walk the whole chain; ``AuditChainBroken`` names the first link that does not hold."""
    unlinked = db.scalars(select(AuditEntry).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id)).first()
    if unlinked is not None:
        raise AuditChainBroken(
            f"audit row id {unlinked.id} ({unlinked.action} by {unlinked.user_name}) has no chain link: "
            "it was inserted with the hashing bypassed",
            "the audit table was written outside duncall; keep a copy of the database as evidence",
        )
    last_prune = db.scalars(select(AuditPrune).order_by(AuditPrune.through_seq.desc()).limit(1)).first()
    pruned_through = last_prune.through_seq if last_prune is not None else 0
    expected_seq = pruned_through + 1
    # After a retention purge the first row kept must link to the checkpoint it recorded (a
    # purge from before checkpoints were kept: its first row's link is taken as it is).
    prev: str | None = GENESIS if last_prune is None else last_prune.through_hash
    rows = 0
    last_id = -1
    while True:
        batch = list(
            db.scalars(
                select(AuditEntry).where(AuditEntry.seq > last_id).order_by(AuditEntry.seq).limit(BATCH_ROWS)
            )
        )
        if not batch:
            break
        for row in batch:
            assert row.seq is not None
            if row.seq < expected_seq:
                raise _broken(row, f"it is older than the purge recorded through seq {pruned_through}")
            if row.seq != expected_seq:
                raise _broken(row, f"rows {expected_seq}–{row.seq - 1} before it are missing")
            if prev is not None and row.prev_hash != prev:
                if rows == 0 and last_prune is not None:
                    raise _broken(
                        row, f"it does not link to the checkpoint of the purge through seq {pruned_through}"
                    )
                raise _broken(row, "its link to the previous row does not match that row's hash")
            content = link_hash(
                row.prev_hash or "", row.seq, row.at, row.user_name, row.action, row.target, row.detail
            )
            if content != row.row_hash:
                raise _broken(row, "its content does not match its hash (the row was edited)")
            prev = row.row_hash
            expected_seq += 1
            rows += 1
        last_id = batch[-1].seq or 0
    head = db.get(AuditHead, 1)
    if head is not None and head.seq >= expected_seq:
        raise AuditChainBroken(
            f"audit chain broken at the end: the last row is seq {expected_seq - 1} but rows up to "
            f"seq {head.seq} were written (rows were removed from the end)",
            "the audit table was changed outside duncall; keep a copy of the database as evidence",
        )
    return ChainReport(rows, pruned_through + 1, expected_seq - 1)
