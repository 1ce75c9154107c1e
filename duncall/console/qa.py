"""QA review: search finished calls, open one with its transcript, path, guard decisions,
flags and scores; score a call on the QA form; export calls and scores as CSV.

Reads the dialer's tables through their models (attempts, accounts, call records,
transcript turns, the guards' ledger); writes only QA scores.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from dialer.store.models.accounts import Account
from dialer.store.models.attempts import AttemptState, CallAttempt
from dialer.store.models.qa import QaScore
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from duncall.console.errors import ApiError, not_found
from duncall.console.flags import QaFlag, ReviewTurn, review
from duncall.console.masking import initials, mask_phone, mask_text
from duncall.console.scoring import MAX_COMMENT_CHARS, AnswersInvalid, QaForm, score
from foundation.spreadsheet import safe_cell

MAX_RESULTS = 500


@dataclass(frozen=True, slots=True)
class CallQuery:
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    campaign: str | None = None
    disposition: str | None = None
    intent: str | None = None
    flag: str | None = None  # only calls with this automatic flag
    script: str | None = None  # <name>.<lang> as the call record names it, or the attempt's script
    script_version: int | None = None  # the saved version the call ran (0: the unsaved file)
    review: str | None = None  # unscored | scored | failed (by any reviewer): QA's work queue
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class FlagRules:
    forbidden: Mapping[str, Sequence[str]]
    min_score: float


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _select(q: CallQuery) -> Select[CallAttempt, CallRecording, str, str]:
    a, r = CallAttempt, CallRecording
    query = (
        select(a, r, Account.first_name, Account.last_name)
        .join(Account, Account.account_id == a.account_id)
        .outerjoin(r, r.attempt_id == a.attempt_id)
        .where(a.state == AttemptState.ENDED.value)  # QA reviews finished calls; live ones are the board's
    )
    if q.date_from:
        query = query.where(a.reserved_at >= _day_start(q.date_from))
    if q.date_to:
        query = query.where(a.reserved_at < _day_start(q.date_to + dt.timedelta(days=1)))
    if q.campaign:
        query = query.where(a.campaign_id == q.campaign)
    if q.disposition:
        query = query.where(a.disposition == q.disposition)
    if q.script:
        query = query.where((r.script == q.script) | (a.script == q.script))
    if q.script_version is not None:
        query = query.where(r.script_version == q.script_version)
    if q.review is not None:
        scored = exists().where(QaScore.attempt_id == a.attempt_id)
        if q.review == "unscored":
            query = query.where(~scored)
        elif q.review == "scored":
            query = query.where(scored)
        else:
            query = query.where(exists().where(QaScore.attempt_id == a.attempt_id, QaScore.failed.is_(True)))
    if q.intent:
        query = query.where(
            exists().where(TranscriptTurn.attempt_id == a.attempt_id, TranscriptTurn.intent == q.intent)
        )
    return query.order_by(a.reserved_at.desc(), a.attempt_id)


def _turns_by_attempt(db: Session, attempt_ids: list[str]) -> dict[str, list[TranscriptTurn]]:
    out: dict[str, list[TranscriptTurn]] = {i: [] for i in attempt_ids}
    if not attempt_ids:
        return out
    for turn in db.scalars(
        select(TranscriptTurn).where(TranscriptTurn.attempt_id.in_(attempt_ids)).order_by(TranscriptTurn.seq)
    ):
        out[turn.attempt_id].append(turn)
    return out


def _flags(turns: list[TranscriptTurn], lang: str, rules: FlagRules) -> list[QaFlag]:
    review_turns = [ReviewTurn(t.seq, t.speaker, t.text, t.intent) for t in turns]
    return review(review_turns, lang, rules.forbidden, rules.min_score)


def _summary(
    attempt: CallAttempt,
    record: CallRecording | None,
    first: str,
    last: str,
    turns: list[TranscriptTurn],
    flags: list[QaFlag],
    show_pii: bool,
) -> dict[str, Any]:
    ends = [t.ended_s if t.ended_s is not None else t.started_s for t in turns]
    return {
        "attempt_id": attempt.attempt_id,
        "at": _utc(attempt.reserved_at),
        "campaign": attempt.campaign_id,
        # Without pii_read (QA) the call is judged, not the debtor: no account id to look them up by.
        "account_id": attempt.account_id if show_pii else None,
        "number": attempt.number if show_pii else mask_phone(attempt.number),
        "debtor": f"{first} {last}" if show_pii else initials(first, last),
        "outcome": attempt.outcome,
        "disposition": attempt.disposition,
        "script": record.script if record and record.script else attempt.script,
        "script_version": record.script_version if record else None,
        "language": record.language if record else None,
        "duration_s": round(max(ends), 1) if ends else None,
        "turns": len(turns),
        "intents": sorted({t.intent for t in turns if t.intent}),
        "flags": sorted({f.kind for f in flags}),
    }


def _scores_by_attempt(db: Session, attempt_ids: list[str]) -> dict[str, list[QaScore]]:
    out: dict[str, list[QaScore]] = {i: [] for i in attempt_ids}
    if attempt_ids:
        for row in db.scalars(
            select(QaScore).where(QaScore.attempt_id.in_(attempt_ids)).order_by(QaScore.scored_at, QaScore.id)
        ):
            out[row.attempt_id].append(row)
    return out


def _score_summary(scores: list[QaScore]) -> dict[str, Any]:
    return {
        "qa_score": round(sum(s.score for s in scores) / len(scores), 1) if scores else None,
        "qa_failed": any(s.failed for s in scores) if scores else None,
        "qa_reviews": len(scores),
    }


def search(db: Session, q: CallQuery, rules: FlagRules, show_pii: bool) -> list[dict[str, Any]]:
    limit = max(1, min(q.limit, MAX_RESULTS))
    query = _select(q)
    if q.flag is None:
        query = query.limit(limit).offset(q.offset)
    rows = db.execute(query).all()
    turns = _turns_by_attempt(db, [row[0].attempt_id for row in rows])
    out = []
    skipped = 0
    for attempt, record, first, last in rows:
        lang = record.language if record else "en"
        flags = _flags(turns[attempt.attempt_id], lang, rules)
        if q.flag is not None:
            # Flags are computed, not stored: filter after computing, then page.
            if not any(f.kind == q.flag for f in flags):
                continue
            if skipped < q.offset:
                skipped += 1
                continue
        out.append(_summary(attempt, record, first, last, turns[attempt.attempt_id], flags, show_pii))
        if len(out) >= limit:
            break
    scores = _scores_by_attempt(db, [row["attempt_id"] for row in out])
    for row in out:
        row.update(_score_summary(scores[row["attempt_id"]]))
    return out


_DIGITS = re.compile(r"\d")


def _qa_text(speaker: str, text: str, names: list[str]) -> str:
    """A turn as QA reads it: names masked; what the debtor said or keyed carries no digits
    (dates of birth, account or card numbers given to verify), so no digit of theirs shows."""
    masked = mask_text(text, names)
    return _DIGITS.sub("#", masked) if speaker != "bot" else masked


def call_detail(
    db: Session, attempt_id: str, rules: FlagRules, show_pii: bool, transcript_only: bool = True
) -> dict[str, Any]:
    row = db.execute(
        select(CallAttempt, CallRecording, Account.first_name, Account.last_name)
        .join(Account, Account.account_id == CallAttempt.account_id)
        .outerjoin(CallRecording, CallRecording.attempt_id == CallAttempt.attempt_id)
        .where(CallAttempt.attempt_id == attempt_id)
    ).first()
    if row is None:
        raise not_found("call", attempt_id, "search calls to find its attempt id")
    attempt, record, first, last = row
    turns = _turns_by_attempt(db, [attempt_id])[attempt_id]
    lang = record.language if record else "en"
    flags = _flags(turns, lang, rules)
    names = [first, last, f"{first} {last}", f"{last}{first}"]
    summary = _summary(attempt, record, first, last, turns, flags, show_pii)
    summary["transcript"] = [
        {
            "seq": t.seq,
            "speaker": t.speaker,
            "text": t.text if show_pii else _qa_text(t.speaker, t.text, names),
            "started_s": t.started_s,
            "ended_s": t.ended_s,
            "asr_confidence": t.asr_confidence,
            "intent": t.intent,
            "intent_confidence": t.intent_confidence,
            "latency_ms": t.latency_ms,
            "interrupted": t.interrupted,
            "dtmf": t.dtmf if show_pii else None,  # keypad digits verify identity: never to QA
        }
        for t in turns
    ]
    # A collector's call: who took it (its transcript's ``agent`` turns are theirs).
    summary["agent_id"] = record.agent_id if record else None
    summary["qa_flags"] = [{"kind": f.kind, "seq": f.seq, "message": f.message} for f in flags]
    summary["record"] = (
        {
            "amd_status": record.amd_status,
            "hangup_by": record.hangup_by,
            # Bankruptcy, deceased and the promised amount are the debtor's, not the call's quality.
            "account_flags": record.flags if show_pii else None,
            "promise": record.promise if show_pii else None,
            "barge_ins_ms": record.barge_ins_ms,
            "recording": record.audio_path,
            "script_sha256": record.script_sha256,
        }
        if record
        else None
    )
    summary["recording_url"] = (
        f"/api/calls/{attempt_id}/recording"
        if record is not None and record.audio_path and (show_pii or not transcript_only)
        else None
    )
    summary["path"] = list(record.path or []) if record else []
    summary["guard_decisions"] = _guard_decisions(db, attempt_id, show_pii)
    scores = _scores_by_attempt(db, [attempt_id])[attempt_id]
    summary.update(_score_summary(scores))
    summary["scores"] = [score_view(s) for s in scores]
    return summary


def recording_name(db: Session, attempt_id: str) -> str:
    """The stored recording's name for a call, or a 404 that says why there is none."""
    row = db.execute(
        select(CallAttempt.attempt_id, CallRecording.audio_path)
        .outerjoin(CallRecording, CallRecording.attempt_id == CallAttempt.attempt_id)
        .where(CallAttempt.attempt_id == attempt_id)
    ).first()
    if row is None:
        raise not_found("call", attempt_id, "search calls to find its attempt id")
    if not row.audio_path:
        raise ApiError(
            404,
            f"call {attempt_id!r} has no recording",
            "only answered calls are recorded, and only when Asterisk could start the recording",
        )
    return str(row.audio_path)


# --- scores -------------------------------------------------------------------------


def score_view(row: QaScore) -> dict[str, Any]:
    return {
        "reviewer": row.reviewer,
        "form": row.form,
        "form_version": row.form_version,
        "answers": dict(row.answers),
        "comment": row.comment,
        "score": row.score,
        "failed": row.failed,
        "failed_items": list(row.failed_items),
        "scored_at": _utc(row.scored_at),
    }


def save_score(
    db: Session,
    attempt_id: str,
    reviewer: str,
    form: QaForm,
    answers: Mapping[str, str],
    comment: str,
    now: dt.datetime,
) -> tuple[QaScore, dict[str, Any] | None]:
    """Store ``reviewer``'s score of a finished call (replacing theirs); returns it and the one it replaced."""
    attempt = db.get(CallAttempt, attempt_id)
    if attempt is None:
        raise not_found("call", attempt_id, "search calls to find its attempt id")
    if attempt.state != AttemptState.ENDED.value:
        raise ApiError(409, f"call {attempt_id!r} has not ended yet", "score it once it has ended")
    if len(comment) > MAX_COMMENT_CHARS:
        raise ApiError(422, f"the comment is over {MAX_COMMENT_CHARS} characters", "shorten it")
    try:
        result = score(form, answers)
    except AnswersInvalid as exc:
        raise ApiError(
            422,
            f"the answers do not fit form {form.form} v{form.version}: {exc.problems[0]}"
            + (f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""),
            "answer every question of the form (GET /api/calls/qa-form) with yes, no or na",
            problems=exc.problems,
        ) from None
    row = db.scalar(select(QaScore).where(QaScore.attempt_id == attempt_id, QaScore.reviewer == reviewer))
    previous = score_view(row) if row is not None else None
    if row is None:
        row = QaScore(attempt_id=attempt_id, reviewer=reviewer)
        db.add(row)
    row.form, row.form_version = form.form, form.version
    row.answers = dict(answers)
    row.comment = comment
    row.score, row.failed, row.failed_items = result.score, result.failed, list(result.failed_items)
    row.scored_at = now
    db.flush()
    return row, previous


def _guard_decisions(db: Session, attempt_id: str, show_pii: bool) -> list[dict[str, Any]]:
    try:
        from dialer.guards.ledger import attempt_decisions
    except ModuleNotFoundError:  # a build without the guards has no ledger to show
        return []
    return [
        {
            "at": _utc(d.at),
            "allowed": d.allowed,
            # A denial's reasons name the account's flags (bankruptcy, deceased): not for QA.
            "reasons": list(d.reasons) if show_pii else [],
            "rules": d.rules,
            "phone": d.phone if show_pii else mask_phone(d.phone),
            "campaign": d.campaign_id,
        }
        for d in attempt_decisions(db, attempt_id)
    ]


CSV_COLUMNS = (
    "attempt_id",
    "at",
    "campaign",
    "account_id",
    "number",
    "debtor",
    "outcome",
    "disposition",
    "script",
    "language",
    "duration_s",
    "turns",
    "intents",
    "flags",
    "script_version",
    "qa_score",
    "qa_failed",
    "qa_reviews",
)


def _csv_cell(value: Any) -> str:
    # Debtors' names, transcripts and comments must never run as a spreadsheet formula.
    return safe_cell(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


SCORE_COLUMNS = (
    "attempt_id",
    "at",
    "campaign",
    "script",
    "script_version",
    "disposition",
    "flags",
    "reviewer",
    "scored_at",
    "form",
    "form_version",
    "score",
    "failed",
    "failed_items",
    "comment",
)


def scores_csv(db: Session, calls: list[dict[str, Any]], form: QaForm) -> str:
    """One row per score of the calls found: the call, its automatic flags, the score and each answer."""
    questions = [q.id for q in form.questions()]
    scores = _scores_by_attempt(db, [c["attempt_id"] for c in calls])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*SCORE_COLUMNS, *questions])
    for call in calls:
        for row in scores[call["attempt_id"]]:
            view = {**call, **score_view(row)}
            writer.writerow(
                [_csv_cell(view.get(c)) for c in SCORE_COLUMNS]
                + [_csv_cell(row.answers.get(qid)) for qid in questions]
            )
    return buf.getvalue()


def call_scores(db: Session, attempt_id: str) -> list[dict[str, Any]]:
    if db.get(CallAttempt, attempt_id) is None:
        raise not_found("call", attempt_id, "search calls to find its attempt id")
    return [score_view(s) for s in _scores_by_attempt(db, [attempt_id])[attempt_id]]
