"""An agentless (bot) campaign over a list of targets.

For each target: reserve the attempt durably, dial through Asterisk, hand an
answered call to the bot, record the outcome, the conversation and its
transcript.  At most ``concurrency`` calls are live at once (the bot's
capacity, K).  Whether a target may be dialled at all is the guard's
decision, taken immediately before the originate (``DialGate``).

Crash safety rests on the order of the writes: the guard's reservation is
durable (ledger) before the attempt row is written in state ``dialing``, and
that row is durable before the originate.  A dialer killed at any point leaves
either nothing dialled but counted (the strict side) or a ``dialing`` row whose
channel ``dc-<attempt_id>`` ``dialer.campaign.recovery.reconcile`` finds or
misses on the next start.  Attempt ids are new uuids per reservation, so no
reservation is ever dialled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.call import RING_TIMEOUT_S, AnsweredCall, AttemptResult, place_call
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from foundation.contract import CallOutcome, ConversationRecord
from foundation.errors import InputError
from foundation.log import kv
from telephony.ari import AriClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    account_id: str
    number: str  # E.164
    endpoint: str  # what Asterisk dials, e.g. PJSIP/+1212…@carrier or Local/x@duncall-personas
    language: str
    script: str
    stage: str | None = None  # the strategy's collection stage, recorded on the attempt


@dataclass
class TargetResult:
    target: Target
    attempt_id: str
    allowed: bool
    deny_reasons: list[str] = field(default_factory=list)
    attempt: AttemptResult[ConversationRecord] | None = None
    stopped: bool = False  # not dialled: the campaign was stopped first


class DialGate(Protocol):
    """Decides, atomically and at dial time, whether this dial may happen; reserves it if so."""

    async def reserve(self, target: Target, attempt_id: str, at: dt.datetime) -> list[str]:
        """Reasons it may not be dialled now (empty: allowed and reserved)."""
        ...

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        """What happened on an allowed attempt, for the frequency rules."""
        ...


OnAnswer = Callable[[Target, AnsweredCall], Awaitable[ConversationRecord]]


class Pacer(Protocol):
    """Spaces originates toward Asterisk (calls per second); waits until the next one may go."""

    async def wait(self) -> None: ...


class Admission(Protocol):
    """Whether the next dial may go: holds it while paused or at the live-call limit (``control``)."""

    def slot(self) -> AbstractAsyncContextManager[bool]:
        """Held for the whole call; yields False when the campaign was stopped (dial nothing)."""
        ...


class FixedSlots:
    """``concurrency`` calls at once, never paused (runs without campaign control)."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        async with self._slots:
            yield True


async def run_campaign(
    ari: AriClient,
    engine: Engine,
    targets: Sequence[Target],
    on_answer: OnAnswer,
    gate: DialGate,
    *,
    campaign_id: str | None = None,
    concurrency: int = 4,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    pacer: Pacer | None = None,
    ring_timeout_s: int = RING_TIMEOUT_S,
    on_result: Callable[[TargetResult], None] | None = None,
    admission: Admission | None = None,
) -> list[TargetResult]:
    """Dial every target once (if the guard allows), at most ``concurrency`` at a time.

    Targets are started in order; ``on_result`` sees each result as it ends (progress).
    ``admission`` (campaign control) replaces the fixed ``concurrency``: pause, stop, new limits.
    """
    if concurrency < 1:
        raise InputError(f"concurrency {concurrency} must be at least 1", "pass --concurrency 1 or more")
    slots = admission if admission is not None else FixedSlots(concurrency)

    async def one(target: Target) -> TargetResult:
        async with slots.slot() as may_dial:
            if not may_dial:
                return TargetResult(target, "", False, stopped=True)
            if pacer is not None:
                # Paced before the guard: the decision stays as close to the originate as it can.
                await pacer.wait()
            attempt_id = str(uuid.uuid4())
            # The guard is asked here, immediately before the originate, never earlier.
            reasons = await gate.reserve(target, attempt_id, clock())
            if reasons:
                log.info("dial denied", extra=kv(account_id=target.account_id, reasons=reasons))
                return TargetResult(target, attempt_id, False, reasons)
            _record_reserved(engine, target, attempt_id, campaign_id, clock())
            attempt = await place_call(
                ari,
                target.endpoint,
                lambda call: on_answer(target, call),
                attempt_id=attempt_id,
                ring_timeout_s=ring_timeout_s,
            )
            _record_ended(engine, target, attempt, clock())
            conv = attempt.conversation
            await gate.outcome(attempt_id, attempt.outcome, bool(conv and conv.right_party))
            return TargetResult(target, attempt_id, True, [], attempt)

    async def reported(target: Target) -> TargetResult:
        result = await one(target)
        if on_result is not None:
            on_result(result)
        return result

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(reported(t), name=f"target:{t.account_id}") for t in targets]
    return [t.result() for t in tasks]


def _record_reserved(
    engine: Engine, t: Target, attempt_id: str, campaign_id: str | None, now: dt.datetime
) -> None:
    with Session(engine) as s, s.begin():
        s.add(
            CallAttempt(
                attempt_id=attempt_id,
                account_id=t.account_id,
                campaign_id=campaign_id,
                number=t.number,
                state=AttemptState.DIALING.value,
                script=t.script,
                stage=t.stage,
                reserved_at=now,
                dialed_at=now,
            )
        )


def _record_ended(engine: Engine, t: Target, a: AttemptResult[ConversationRecord], now: dt.datetime) -> None:
    conv = a.conversation
    with Session(engine) as s, s.begin():
        row = s.get(CallAttempt, a.attempt_id)
        assert row is not None
        row.state = AttemptState.ENDED.value
        row.ended_at = now
        row.outcome = a.outcome.value
        row.disposition = (
            conv.disposition
            if conv
            else ("no_contact" if a.outcome is not CallOutcome.ANSWERED else "incomplete")
        )
        if conv is None:
            return
        s.add(
            CallRecording(
                attempt_id=a.attempt_id,
                language=conv.language,
                script=conv.script or t.script,
                script_version=conv.script_version,
                script_sha256=conv.script_sha256,
                path=list(conv.path),
                amd_status=a.amd_status,
                hangup_by=conv.hangup_by,
                disposition=conv.disposition,
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
                    attempt_id=a.attempt_id,
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
