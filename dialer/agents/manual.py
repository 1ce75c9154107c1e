"""A collector's own call (click-to-call on a number of their worklist), through the one dial pipeline.

The call is a dialer call like any other: ``dialer.dial.pipeline.dial_one`` asks the guard
immediately before the originate (as a human-voice call: the bot-consent rule is the bot's),
writes the attempt row, places the call and stores its end.  Only what answers it differs: the
collector is on the line from the start.  Their softphone is rung as the guard allows the dial
and hears ringback while the number rings (``dialer.agents.deskline``); no answer detection
runs (the human is already there: a voicemail greeting reaches the collector, who may leave only
a limited-content message, ``VOICEMAIL_MESSAGE``), and whatever answers is bridged to the desk.
The desk is taken before the dial, so no campaign claims it meanwhile; a call that never
reaches the collector gives it back as it was.  A recorded call's two sides are transcribed for
QA after its attempt is stored (``after_call``), as an agent campaign's are.

``ManualCall.start`` returns as soon as the guard has decided: the reasons of a refusal
(nothing dialled), or an allowed call that goes on in the background until its wrap-up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.agents.connect import ABANDON_MESSAGE, play_abandon_message, talk
from dialer.agents.desk import WRAP_UP_WAIT_S, Desk, DeskBoard
from dialer.agents.deskline import DeskLine
from dialer.agents.recording import RECORDING_NOTICE, AgentRecording, record_after_notice
from dialer.call import AnsweredCall, AttemptResult
from dialer.campaign.recovery import Orphan, OrphanSink, answer_kind, settled_disposition, settled_outcome
from dialer.dial.pipeline import DialGate, DialHooks, DialNotPlaced, TargetResult, dial_one
from dialer.store.models import AttemptState, CallAttempt
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, Disposition, debtor_channel
from foundation.log import kv
from telephony.ari import AriClient
from telephony.live.registry import CallKind, Listing, LiveCall, LiveCallRegistry

log = logging.getLogger(__name__)

# The collector clicked and waits at their desk: their softphone answers by itself, but a
# browser is given longer than a predictive campaign's 1.5 s before the debtor hears the message.
MANUAL_CONNECT_TIMEOUT_S = 8.0
# What a collector may leave on a voicemail (Reg F §1006.2(j), a "limited-content message"): a
# person's name, a request to call back and a number; never the debt, the creditor or that this
# is debt collection.  The desk shows it, filled in, with each call it places.
VOICEMAIL_MESSAGE = (
    "Hello, this is a message for {full_name}. This is {collector_name}. "
    "Please call me back at {callback_number}. Thank you."
)


def voicemail_message(full_name: str, collector_name: str, callback_number: str) -> str:
    """The limited-content message for one call, as the collector may read it to a voicemail."""
    return VOICEMAIL_MESSAGE.format(
        full_name=full_name, collector_name=collector_name, callback_number=callback_number
    )


@dataclass(frozen=True, slots=True)
class Decision:
    attempt_id: str
    reasons: tuple[str, ...]  # the guard's, when refused (nothing was dialled)

    @property
    def allowed(self) -> bool:
        return not self.reasons


class _Telling:
    """The dial's gate, which also tells the waiting request what the guard decided."""

    def __init__(
        self, gate: DialGate, told: asyncio.Future[list[str]], allowed: Callable[[], None] | None = None
    ) -> None:
        self.gate = gate
        self.told = told
        self.allowed = allowed  # called the moment the guard allowed the dial, before its originate

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        try:
            reasons = await self.gate.reserve(target, attempt_id, at)
        except BaseException as exc:
            if not self.told.done():
                self.told.set_exception(exc)
            raise
        if not reasons and self.allowed is not None:
            self.allowed()
        if not self.told.done():
            self.told.set_result(reasons)
        return reasons

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        await self.gate.outcome(attempt_id, outcome, right_party)

    async def withdraw(self, attempt_id: str) -> None:
        await self.gate.withdraw(attempt_id)


def _abandoned(attempt: AttemptResult[ConversationRecord]) -> None:
    """A person answered and heard the message instead of the collector: abandoned, for the guard too."""
    if attempt.conversation is not None and attempt.conversation.disposition is Disposition.ABANDONED:
        attempt.outcome = CallOutcome.ABANDONED


@dataclass(frozen=True, slots=True)
class ManualCall:
    """What a collector's click-to-call needs: Asterisk, the store, the guard's gate, the desks."""

    ari: AriClient
    engine: Engine
    gate: DialGate  # a human-voice ``GuardGate`` (the campaign's own gate class)
    board: DeskBoard
    clock: Callable[[], dt.datetime]
    connect_timeout_s: float = MANUAL_CONNECT_TIMEOUT_S
    wrap_up_wait_s: float = WRAP_UP_WAIT_S
    abandon_message: str = ABANDON_MESSAGE
    # Played once bridged; the call is recorded after it, as a campaign's desk call (None: neither).
    recording_notice: str | None = RECORDING_NOTICE
    # Where bridged calls are listed for supervisors (listen, whisper, barge), as a campaign's are.
    live: LiveCallRegistry | None = None
    # A recorded call's two sides transcribed for QA once its attempt is stored
    # (``duncall.agent_transcripts.AgentTranscriber``, as an agent campaign's calls are).
    after_call: Callable[[AgentRecording, str], Awaitable[None]] | None = None

    async def start(
        self, target: DialTarget, collector_id: str, desk_endpoint: str, attempt_id: str
    ) -> tuple[Decision, asyncio.Task[TargetResult | None] | None]:
        """Take the desk, ask the guard, and when allowed go on with the call in a task.

        Raises ``InputError`` (the desk is busy) and ``ServiceUnavailable`` (the guard could not
        decide: nothing dialled), each before anything is dialled."""
        before = self.board.take(collector_id, attempt_id, target.account_id)
        told: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            self._run(target, collector_id, desk_endpoint, attempt_id, before, told),
            name=f"desk-call:{attempt_id}",
        )
        try:
            reasons = await asyncio.shield(told)
        except BaseException:
            await asyncio.gather(task, return_exceptions=True)
            raise
        if reasons:
            await task
            return Decision(attempt_id, tuple(reasons)), None
        return Decision(attempt_id, ()), task

    async def _run(
        self,
        target: DialTarget,
        collector_id: str,
        desk_endpoint: str,
        attempt_id: str,
        before: Desk,
        told: asyncio.Future[list[str]],
    ) -> TargetResult | None:
        desk = DeskLine(
            self.ari, collector_id, desk_endpoint, attempt_id=attempt_id, timeout_s=self.connect_timeout_s
        )
        recorded: list[AgentRecording] = []
        try:
            result = await dial_one(
                self.ari,
                self.engine,
                target,
                lambda call: self._answered(target, collector_id, attempt_id, call, desk, recorded),
                _Telling(self.gate, told, desk.start),
                attempt_id=attempt_id,
                clock=self.clock,
                hooks=DialHooks(placed=_abandoned),
                # The collector is on the line: no machine is hung up on them, no pause before
                # they hear the answer (and a voicemail greeting is theirs to hear).
                detect_machine=False,
            )
        except DialNotPlaced as exc:
            log.warning("desk call not placed", extra=kv(attempt_id=attempt_id, error=exc.what))
            if not told.done():
                told.set_exception(exc)
            return exc.result
        except Exception as exc:
            if not told.done():
                told.set_exception(exc)
            raise
        finally:
            await desk.close()
            await asyncio.to_thread(self.board.give_back, collector_id, attempt_id, before)
        if recorded and self.after_call is not None:
            try:
                await self.after_call(recorded[0], target.language)
            except Exception:
                # The call and its recording are stored; only its transcript is missing.
                log.exception("after-call step failed", extra=kv(attempt_id=attempt_id))
        return result

    async def _answered(
        self,
        target: DialTarget,
        collector_id: str,
        attempt_id: str,
        call: AnsweredCall,
        desk: DeskLine,
        recorded: list[AgentRecording],
    ) -> ConversationRecord:
        ari = call.ari or self.ari
        record = ConversationRecord(language=target.language, script=target.script or None)
        left_s = max(0.0, self.connect_timeout_s - (time.monotonic() - call.answered_at))
        try:
            leg = await desk.join(call.channel_id, left_s)
        except Exception as exc:
            log.warning("desk leg failed", extra=kv(attempt_id=attempt_id, error=type(exc).__name__))
            leg = None
        if leg is None:
            # Nobody on the line for a person who answered: they hear who called and how to call back.
            self.board.unreachable(collector_id)
            await play_abandon_message(ari, call.channel_id, self.abandon_message, attempt_id=attempt_id)
            record.disposition = Disposition.ABANDONED
            record.hangup_by = "bot"
            return record
        self.board.connected(collector_id)
        listing = None
        try:
            if self.live is not None:
                listing = await Listing.start(
                    self.live,
                    LiveCall(
                        attempt_id,
                        call.channel_id,
                        leg.channel_id,
                        leg.bridge_id,
                        target.language,
                        self.clock(),
                        ari.app,
                        kind=CallKind.AGENT,
                        agent_id=collector_id,
                    ),
                )
            recording = await record_after_notice(
                ari,
                call.channel_id,
                leg,
                attempt_id=attempt_id,
                notice=self.recording_notice,
                answered_at=call.answered_at,
            )
            if recording is not None:
                record.recording = recording.mixed
                recorded.append(recording)
            ended_by = await talk(ari, call.channel_id, leg)
        finally:
            if listing is not None:
                await listing.close()
            self.board.release(collector_id)
        record.disposition = Disposition.TRANSFERRED
        record.hangup_by = "debtor" if ended_by == "debtor" else "unknown"
        record.right_party = True  # the dialer cannot tell whom the collector spoke with: the strict side
        started = time.monotonic()
        wrap = await asyncio.to_thread(self.board.wait_wrap_up, attempt_id, self.wrap_up_wait_s)
        if wrap is not None:
            wrap.apply(record)
        else:
            log.warning(
                "no wrap-up from the desk in time",
                extra=kv(attempt_id=attempt_id, waited_s=round(time.monotonic() - started)),
            )
        return record


def _lost(engine: Engine) -> list[Orphan]:
    """Unfinished outbound attempts of no campaign: the desks' own calls (inbound calls say so)."""
    with Session(engine) as s:
        rows = s.scalars(
            select(CallAttempt).where(
                CallAttempt.campaign_id.is_(None),
                CallAttempt.direction == "outbound",
                CallAttempt.state.not_in([AttemptState.ENDED.value, AttemptState.NOT_PLACED.value]),
            )
        )
        out = []
        for r in rows:
            answered_by = answer_kind(r.answered_by)
            reserved_at = r.reserved_at if r.reserved_at.tzinfo else r.reserved_at.replace(tzinfo=dt.UTC)
            out.append(
                Orphan(
                    r.attempt_id,
                    r.account_id,
                    r.number,
                    reserved_at,
                    channel_up=False,
                    hung_up=False,
                    outcome=settled_outcome(answered_by, channel_up=False),
                    answered_by=answered_by,
                )
            )
        return out


def _end_lost(engine: Engine, lost: list[Orphan], now: dt.datetime) -> None:
    with Session(engine) as s, s.begin():
        for orphan in lost:
            row = s.get(CallAttempt, orphan.attempt_id)
            if row is None or row.state == AttemptState.ENDED.value:
                continue
            row.state = AttemptState.ENDED.value
            row.ended_at = now
            row.outcome = orphan.outcome.value
            row.disposition = settled_disposition(orphan).value


async def settle_lost_calls(
    ari: AriClient, engine: Engine, now: dt.datetime, *, on_lost: OrphanSink | None = None
) -> int:
    """Desk calls a console lost (it stopped mid-call) whose debtor channel Asterisk no longer has:
    ended as a campaign's recovery ends its own (``dialer.campaign.recovery``) — ``answered`` when
    the row says a person answered, ``voicemail`` for a machine, else ``failed``.  ``on_lost``
    (``guard_sink``): each one ended is told to the guard, so a conversation the lost console never
    reported still starts the after-conversation lockout.  Calls still up are left alone (another
    console's, or one still talking); the guard's allowed decision already counts each as an
    attempt.  Returns how many were ended."""
    rows = await asyncio.to_thread(_lost, engine)
    if not rows:
        return 0
    live = {c.id for c in await ari.list_channels()}
    gone = [o for o in rows if debtor_channel(o.attempt_id) not in live]
    if gone:
        await asyncio.to_thread(_end_lost, engine, gone, now)
        if on_lost is not None:
            for orphan in gone:
                await on_lost(orphan)
        log.warning(
            "desk calls lost by a stopped console ended",
            extra=kv(attempts=len(gone), answered=sum(o.person_answered for o in gone)),
        )
    return len(gone)
