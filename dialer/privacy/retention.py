"""The retention purge: what has been kept as long as the settings say goes, and is counted.

Each kind of record has its own period (``DUNCALL_RETENTION_*_DAYS``, default three years, Reg F
§1006.100), counted from the account's last collection activity — its latest call attempt —
not from the record's own date: an account called last week keeps its three-year-old calls.
The guard ledger counts from the same activity; a decision whose account no longer exists
(erased, or re-imported without it) counts from its own date.

Not purged here: the console's audit log (append-only and hash-chained; its own pruning keeps
the chain verifiable), suppression lists (kept by law), accounts themselves (the creditor's file
is their truth; erase one with ``duncall erase``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from dialer.store.base import Base
from dialer.store.models import CallAttempt
from dialer.store.models.guards import GuardDecisionRow, GuardOutcomeRow
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from foundation.log import kv

log = logging.getLogger(__name__)

KINDS = ("recordings", "transcripts", "attempts", "ledger")
LABELS = {
    "recordings": "recordings' audio",
    "transcripts": "transcript turns",
    "attempts": "call attempts",
    "ledger": "ledger decisions",
    "recording_files": "audio files",
    "qa_scores": "QA scores",
}


@dataclass(frozen=True, slots=True)
class Retention:
    """Days each kind is kept after the account's last activity."""

    recordings_days: int
    transcripts_days: int
    attempts_days: int
    ledger_days: int

    def cutoff(self, kind: str, at: dt.datetime) -> dt.datetime:
        """Records whose account was last active before this instant have expired."""
        days: int = getattr(self, f"{kind}_days")
        return at - dt.timedelta(days=days)


@dataclass
class PurgeReport:
    at: dt.datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)  # kind → rows (or files)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        parts = ", ".join(f"{self.counts.get(k, 0)} {LABELS[k]}" for k in self.order())
        return [f"purge as of {self.at.isoformat(timespec='seconds')}: {verb} {parts}"]

    def order(self) -> list[str]:
        return [*KINDS, "recording_files", "qa_scores"]


def _last_activity() -> Any:
    """Account id → its latest attempt's reservation time (a subquery)."""
    a = CallAttempt
    return (
        select(a.account_id.label("account_id"), func.max(a.reserved_at).label("last"))
        .group_by(a.account_id)
        .subquery()
    )


def _expired_attempts(cutoff: dt.datetime) -> Select[Any]:
    last = _last_activity()
    return (
        select(CallAttempt.attempt_id)
        .join(last, last.c.account_id == CallAttempt.account_id)
        .where(last.c.last < cutoff)
    )


def purge(
    db: Session,
    retention: Retention,
    at: dt.datetime,
    *,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete (or, ``dry_run``, count) what expired as of ``at`` in ``db``'s transaction; the
    audio files of purged recordings go once the caller commits (``delete_files``)."""
    report = PurgeReport(at, dry_run)
    files: list[Path] = []

    att_ids = _expired_attempts(retention.cutoff("attempts", at))
    # A recording's audio expires with its own period (the row keeps the call's metadata and its
    # transcript, whose turns hang on it, until those expire); with its attempt, all of it goes.
    audio_where = CallRecording.audio_path.is_not(None) & (
        CallRecording.attempt_id.in_(_expired_attempts(retention.cutoff("recordings", at)))
        | CallRecording.attempt_id.in_(att_ids)
    )
    files += [Path(p) for p in db.scalars(select(CallRecording.audio_path).where(audio_where)) if p]
    turn_where = TranscriptTurn.attempt_id.in_(
        _expired_attempts(retention.cutoff("transcripts", at))
    ) | TranscriptTurn.attempt_id.in_(att_ids)
    qa = Base.metadata.tables.get("qa_scores")

    report.counts["recordings"] = _count(
        db, select(func.count()).select_from(CallRecording).where(audio_where)
    )
    report.counts["transcripts"] = _count(
        db, select(func.count()).select_from(TranscriptTurn).where(turn_where)
    )
    report.counts["attempts"] = _count(
        db, select(func.count()).select_from(CallAttempt).where(CallAttempt.attempt_id.in_(att_ids))
    )
    if qa is not None:
        report.counts["qa_scores"] = _count(
            db, select(func.count()).select_from(qa).where(qa.c.attempt_id.in_(att_ids))
        )
    ledger_ids = _expired_ledger(retention.cutoff("ledger", at))
    report.counts["ledger"] = _count(
        db,
        select(func.count()).select_from(GuardDecisionRow).where(GuardDecisionRow.attempt_id.in_(ledger_ids)),
    )
    report.counts["recording_files"] = sum(1 for f in files if f.is_file())
    if dry_run:
        return report
    # Materialized first: the deletes below change what the subqueries would find.
    ledger_list = list(db.scalars(ledger_ids))
    att_list = list(db.scalars(att_ids))
    db.execute(update(CallRecording).where(audio_where).values(audio_path=None))
    db.execute(delete(TranscriptTurn).where(turn_where))
    if att_list:
        if qa is not None:
            db.execute(delete(qa).where(qa.c.attempt_id.in_(att_list)))
        db.execute(delete(CallRecording).where(CallRecording.attempt_id.in_(att_list)))
        db.execute(delete(CallAttempt).where(CallAttempt.attempt_id.in_(att_list)))
    if ledger_list:
        db.execute(delete(GuardOutcomeRow).where(GuardOutcomeRow.attempt_id.in_(ledger_list)))
        db.execute(delete(GuardDecisionRow).where(GuardDecisionRow.attempt_id.in_(ledger_list)))
    report_files = [f for f in files if f.is_file()]
    db.info["duncall_purge_files"] = report_files
    log.info("retention purge", extra=kv(**{k: v for k, v in report.counts.items()}))
    return report


def _expired_ledger(cutoff: dt.datetime) -> Select[Any]:
    """Decisions of accounts last active before ``cutoff``; of accounts with no attempt row any
    more (erased), decisions older than it."""
    d = GuardDecisionRow
    last = _last_activity()
    return (
        select(d.attempt_id)
        .outerjoin(last, last.c.account_id == d.account_id)
        .where(func.coalesce(last.c.last, d.at) < cutoff)
    )


def _count(db: Session, query: Select[Any]) -> int:
    return int(db.scalar(query) or 0)


def delete_files(db: Session) -> int:
    """After the purge's commit: delete the audio files of the purged recordings."""
    n = 0
    for path in db.info.pop("duncall_purge_files", []):
        try:
            path.unlink()
            n += 1
        except FileNotFoundError:
            pass
        except OSError:
            log.error("recording file not deleted", extra=kv(file=path.name))
    return n
