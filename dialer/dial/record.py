"""What one attempt writes to the store: the ``dialing`` row before the originate, the answer
when it comes, the end after.

One writer for bot and agent calls alike: the ended row, the account state the
call produced (``dialer.accounts.state``) and its recording come from the call's
``ConversationRecord`` (an agent call's has no turns).  The
writes block, so the pipeline makes them through ``reserved`` / ``ended``,
which run them in a worker thread: the event loop carries the calls' audio.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from dialer.accounts.state import CallResult, write_call_result
from dialer.call import AnswerKind, AttemptResult
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, Disposition


def record_reserved(
    engine: Engine,
    target: DialTarget,
    attempt_id: str,
    campaign_id: str | None,
    now: dt.datetime,
    node: str | None = None,
) -> None:
    """The attempt row in state ``dialing``, committed: it must be durable before the originate."""
    with Session(engine) as s, s.begin():
        s.add(
            CallAttempt(
                attempt_id=attempt_id,
                account_id=target.account_id,
                campaign_id=campaign_id,
                number=target.number,
                state=AttemptState.DIALING.value,
                script=target.script,
                stage=target.stage,
                reserved_at=now,
                dialed_at=now,
                node=node,
            )
        )


ANSWER_PENDING = "pending"  # answered, answer detection's verdict not yet in: a person for recovery


def record_answered(
    engine: Engine, attempt_id: str, answered_at: dt.datetime, kind: AnswerKind | None
) -> None:
    """The answer on the ``dialing`` row, committed while the call goes on: a dialer that dies
    mid-call leaves a row recovery knows a person (or a machine) answered.  ``kind`` None: the
    line is up and detection still listens (``pending``, which recovery counts as a person).
    An ended row is left as its end wrote it."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(CallAttempt)
            .where(CallAttempt.attempt_id == attempt_id, CallAttempt.state == AttemptState.DIALING.value)
            .values(answered_at=answered_at, answered_by=ANSWER_PENDING if kind is None else kind.value)
        )


def disposition_of(attempt: AttemptResult[ConversationRecord]) -> Disposition:
    """The conversation's own; without one, nobody was reached — or the answered call left no record."""
    if attempt.conversation is not None:
        return attempt.conversation.disposition
    return Disposition.NO_CONTACT if attempt.outcome is not CallOutcome.ANSWERED else Disposition.INCOMPLETE


def record_ended(
    engine: Engine, target: DialTarget, attempt: AttemptResult[ConversationRecord], now: dt.datetime
) -> None:
    """End the attempt row with its outcome and the account state the call produced (flags, a
    blocked number, a promise, a plan, a callback day); an answered call adds its recording and
    transcript.  One transaction: the attempt never ends without what the debtor said."""
    conv = attempt.conversation
    with Session(engine) as s, s.begin():
        row = s.get(CallAttempt, attempt.attempt_id)
        assert row is not None, "an attempt is recorded before it is dialled"
        write_call_result(s, row, CallResult.of(attempt.outcome, disposition_of(attempt), conv), now)
        if conv is None:
            return
        s.add(
            CallRecording(
                attempt_id=attempt.attempt_id,
                language=conv.language,
                script=conv.script or target.script,
                script_version=conv.script_version,
                script_sha256=conv.script_sha256,
                path=list(conv.path),
                amd_status=attempt.amd_status,
                hangup_by=conv.hangup_by,
                disposition=str(conv.disposition),
                flags=list(conv.flags),
                promise=conv.promise,
                barge_ins_ms=list(conv.barge_ins),
                audio_path=conv.recording,
                recorded_at=now,
            )
        )
        s.flush()
        for i, turn in enumerate(conv.turns):
            s.add(
                TranscriptTurn(
                    attempt_id=attempt.attempt_id,
                    seq=i,
                    speaker=turn.speaker,
                    text=turn.text,
                    started_s=turn.started_s,
                    ended_s=turn.ended_s,
                    asr_confidence=turn.asr_confidence,
                    intent=turn.intent,
                    intent_confidence=turn.intent_confidence,
                    slots=turn.slots,
                    latency_ms=turn.latency_ms,
                    interrupted=turn.interrupted,
                    dtmf=turn.dtmf,
                )
            )


def record_not_placed(engine: Engine, attempt: AttemptResult[ConversationRecord], now: dt.datetime) -> None:
    """End the attempt row as ``not_placed``: Asterisk refused the originate, nobody was rung.
    The account's state is not touched (no outcome, no disposition, no retry spacing)."""
    with Session(engine) as s, s.begin():
        row = s.get(CallAttempt, attempt.attempt_id)
        assert row is not None, "an attempt is recorded before it is dialled"
        row.state = AttemptState.NOT_PLACED.value
        row.outcome = None
        row.dialed_at = None
        row.ended_at = now


async def reserved(
    engine: Engine,
    target: DialTarget,
    attempt_id: str,
    campaign_id: str | None,
    now: dt.datetime,
    *,
    node: str | None = None,
) -> None:
    """``record_reserved`` off the event loop; returns once the row is committed."""
    await asyncio.to_thread(record_reserved, engine, target, attempt_id, campaign_id, now, node)


async def answered(
    engine: Engine, attempt_id: str, answered_at: dt.datetime, kind: AnswerKind | None
) -> None:
    """``record_answered`` off the event loop."""
    await asyncio.to_thread(record_answered, engine, attempt_id, answered_at, kind)


async def ended(
    engine: Engine, target: DialTarget, attempt: AttemptResult[ConversationRecord], now: dt.datetime
) -> None:
    """``record_ended`` off the event loop."""
    await asyncio.to_thread(record_ended, engine, target, attempt, now)


async def not_placed(engine: Engine, attempt: AttemptResult[ConversationRecord], now: dt.datetime) -> None:
    """``record_not_placed`` off the event loop."""
    await asyncio.to_thread(record_not_placed, engine, attempt, now)
