"""The retention purge: what has been kept as long as the settings say goes, and is counted.

Each kind of record has its own period (``DUNCALL_RETENTION_*_DAYS``, default three years, Reg F
§1006.100), counted from the account's last collection activity — its latest call attempt or
message — not from the record's own date: an account called last week keeps its three-year-old
calls and messages.  The guard ledger counts from the same activity; a decision whose account no
longer exists (erased, or re-imported without it) counts from its own date.

The console's audit log is not per account: its rows expire by their own date, and only as a
whole prefix of the hash chain (up to the first row still kept).  The purge records how far it
went and the last removed row's hash in ``console_audit_prune`` first — the only deletion the
append-only triggers let through — so ``duncall audit verify`` starts from that checkpoint.  On
PostgreSQL only the schema's owner may write that record: run as the application's role
(``duncall db grant``) the purge leaves the audit log alone and says so.

Not purged here: suppression lists and opt-outs (kept by law), accounts and their addresses
(the creditor's file is their truth; erase one with ``duncall erase``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, select, union_all, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from dialer.privacy.recordings import queue
from dialer.store.base import Base
from dialer.store.models import CallAttempt
from dialer.store.models.console import AuditEntry, AuditPrune
from dialer.store.models.followups import FollowUpRow
from dialer.store.models.guards import GuardDecisionRow, GuardOutcomeRow
from dialer.store.models.messages import MessageEventRow, MessageRow
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
    "messages": "messages",
    "message_events": "message events",
    "audit": "audit rows",
}
AUDIT_NOT_OURS = (
    "audit rows not purged: this database role may not prune the audit log (run purge as the schema's owner)"
)


@dataclass(frozen=True, slots=True)
class Retention:
    """Days each kind is kept after the account's last activity (audit rows: after their own date)."""

    recordings_days: int
    transcripts_days: int
    attempts_days: int
    ledger_days: int
    messages_days: int
    audit_days: int

    def cutoff(self, kind: str, at: dt.datetime) -> dt.datetime:
        """Records whose account was last active before this instant have expired."""
        days: int = getattr(self, f"{kind}_days")
        return at - dt.timedelta(days=days)


@dataclass
class PurgeReport:
    at: dt.datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)  # kind → rows (or files)
    notes: list[str] = field(default_factory=list)  # what could not be done, one line each

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        parts = ", ".join(f"{self.counts.get(k, 0)} {LABELS[k]}" for k in self.order())
        return [f"purge as of {self.at.isoformat(timespec='seconds')}: {verb} {parts}", *self.notes]

    def order(self) -> list[str]:
        return [*KINDS, "recording_files", "qa_scores", "messages", "message_events", "audit"]


def _last_activity() -> Any:
    """Account id → its latest collection activity: a call attempt reserved or a message made."""
    a, m = CallAttempt, MessageRow
    acts = union_all(
        select(a.account_id.label("account_id"), a.reserved_at.label("at")),
        select(m.account_id.label("account_id"), m.created_at.label("at")),
    ).subquery()
    return (
        select(acts.c.account_id.label("account_id"), func.max(acts.c.at).label("last"))
        .group_by(acts.c.account_id)
        .subquery()
    )


def _expired_accounts(cutoff: dt.datetime) -> Select[Any]:
    last = _last_activity()
    return select(last.c.account_id).where(last.c.last < cutoff)


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
    by: str = "retention",
) -> PurgeReport:
    """Delete (or, ``dry_run``, count) what expired as of ``at`` in ``db``'s transaction; the
    audio files of purged recordings go once the caller commits (``delete_files``), recordings
    Asterisk stores are queued in ``recording_deletions`` for ``dialer.privacy.recordings``."""
    report = PurgeReport(at, dry_run)
    files: list[Path] = []
    names: list[str] = []

    att_ids = _expired_attempts(retention.cutoff("attempts", at))
    # A recording's audio expires with its own period (the row keeps the call's metadata and its
    # transcript, whose turns hang on it, until those expire); with its attempt, all of it goes.
    audio_where = CallRecording.audio_path.is_not(None) & (
        CallRecording.attempt_id.in_(_expired_attempts(retention.cutoff("recordings", at)))
        | CallRecording.attempt_id.in_(att_ids)
    )
    for stored in db.scalars(select(CallRecording.audio_path).where(audio_where)):
        if stored and Path(stored).is_absolute():
            files.append(Path(stored))  # a file the store names by its path
        elif stored:
            names.append(stored)  # an Asterisk stored recording's name
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
    msg_accounts = _expired_accounts(retention.cutoff("messages", at))
    report.counts["messages"] = _count(
        db, select(func.count()).select_from(MessageRow).where(MessageRow.account_id.in_(msg_accounts))
    )
    report.counts["message_events"] = _count(
        db,
        select(func.count()).select_from(MessageEventRow).where(MessageEventRow.account_id.in_(msg_accounts)),
    )
    # A reply's follow-up for a collector keeps the reply's words: it goes with the messages.
    report.counts["follow_ups"] = _count(
        db, select(func.count()).select_from(FollowUpRow).where(FollowUpRow.account_id.in_(msg_accounts))
    )
    audit_from, audit_through = _audit_prefix(db, retention.cutoff("audit", at))
    report.counts["audit"] = max(audit_through - audit_from + 1, 0)
    if dry_run:
        return report
    # Materialized first, like the rest: deleting messages changes each account's last activity.
    msg_account_list = list(db.scalars(msg_accounts))
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
    if msg_account_list:
        db.execute(delete(MessageEventRow).where(MessageEventRow.account_id.in_(msg_account_list)))
        db.execute(delete(FollowUpRow).where(FollowUpRow.account_id.in_(msg_account_list)))
        db.execute(delete(MessageRow).where(MessageRow.account_id.in_(msg_account_list)))
    queue(db, names, at, "retention")
    if audit_through >= audit_from and not _prune_audit(db, audit_through, at, by):
        report.counts["audit"] = 0
        report.notes.append(AUDIT_NOT_OURS)
    report_files = [f for f in files if f.is_file()]
    db.info["duncall_purge_files"] = report_files
    log.info("retention purge", extra=kv(**{k: v for k, v in report.counts.items()}))
    return report


def _audit_prefix(db: Session, cutoff: dt.datetime) -> tuple[int, int]:
    """The audit rows (first and last seq) that expired: the oldest not yet pruned up to the
    first row still kept, so the chain is cut only at its start."""
    pruned = db.scalar(select(func.coalesce(func.max(AuditPrune.through_seq), 0))) or 0
    first_kept = db.scalar(
        select(func.min(AuditEntry.seq)).where(AuditEntry.at >= cutoff, AuditEntry.seq > pruned)
    )
    last = first_kept - 1 if first_kept is not None else db.scalar(select(func.max(AuditEntry.seq))) or 0
    return pruned + 1, int(last)


def _prune_audit(db: Session, through: int, at: dt.datetime, by: str) -> bool:
    """Record the checkpoint, then delete the rows up to it; False when this role may not."""
    checkpoint = db.scalar(select(AuditEntry.row_hash).where(AuditEntry.seq == through))
    try:
        with db.begin_nested():
            db.add(AuditPrune(through_seq=through, at=at, by=by[:64], through_hash=checkpoint))
            db.flush()
            db.execute(delete(AuditEntry).where(AuditEntry.seq <= through))
    except DBAPIError as exc:
        if "permission denied" not in str(exc.orig):
            raise
        return False
    return True


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
