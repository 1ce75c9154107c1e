"""One dial to a debtor, for every campaign mode: the only caller of ``place_call``.

pacer → guard reservation → attempt row ``dialing`` → originate (``place_call``)
→ the answer on the row (when and by whom) → attempt row ended → outcome to the guard.

Crash safety rests on the order of the writes: the guard's reservation is
durable (ledger) before the attempt row is written in state ``dialing``, and
that row is durable before the originate.  A dialer killed at any point leaves
either nothing dialled but counted (the strict side) or a ``dialing`` row whose
channel ``dc-<attempt_id>`` ``dialer.campaign.recovery.reconcile`` finds or
misses on the next start.  Attempt ids are new uuids per reservation, so no
reservation is ever dialled twice.  The answer is written to the row as the call
is answered (alongside the bot's or the collector's first words, not before them):
a dialer killed mid-conversation leaves a row that says a person answered, which
recovery counts as a conversation for the guard's after-conversation rule.

One failing call never stops the others: whatever fails after the guard allowed
the dial is handled here, per call.  The attempt is stored with what is known
of it (``failed`` when the originate's fate is unknown; ``answered`` stays
answered) and reported to the guard on the cautious side — an answered call
whose conversation left no record counts as a right-party conversation, the
side of the frequency rules that never calls too soon.  A service the guard
needs (Redis, the database) failing *before* the originate raises
``DialNotPlaced``: nothing was dialled, and the campaign pauses until the
service is back (``dialer.campaign.outage``).  Cancellation always propagates.

A campaign mode keeps its own bookkeeping through ``DialHooks`` (the agent
campaign's ringing calls and its abandoned outcome); what it answers a call
with is its ``on_answer``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dialer.call import RING_TIMEOUT_S, AnsweredCall, AnswerKind, AttemptResult, place_call
from dialer.dial import record
from dialer.dial.nodes import Placement
from foundation import metrics
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, debtor_channel
from foundation.errors import ServiceUnavailable
from foundation.log import kv
from telephony.ari import AriClient

log = logging.getLogger(__name__)

# The end of a call is retried this long while the database is away (the campaign is paused
# meanwhile); past it the row stays ``dialing`` and the next start's recovery settles it.
END_WRITE_PATIENCE_S = 300.0
END_WRITE_RETRY_S = (0.5, 10.0)  # first and longest wait between tries


@dataclass
class TargetResult:
    target: DialTarget
    attempt_id: str
    allowed: bool
    deny_reasons: list[str] = field(default_factory=list)
    attempt: AttemptResult[ConversationRecord] | None = None
    stopped: bool = False  # not dialled: the campaign was stopped first
    error: str = ""  # the dial failed on our side (the error's type); see the log by attempt id
    # Allowed, but Asterisk refused the originate: nothing reached the network, the guard's
    # reservation was withdrawn and the attempt row says ``not_placed`` (no cap, no retry spacing).
    not_placed: bool = False


class DialNotPlaced(ServiceUnavailable):
    """A service the dial needs (Redis, the database) failed before the originate: nothing was dialled.

    ``result`` is None when no allowing decision was taken: the target may be dialled later,
    under a new decision.  Otherwise the allowed decision stands (counted by the guards) and
    ``result`` is the target's end: its attempt is ``failed``, never placed.
    """

    def __init__(self, cause: ServiceUnavailable, result: TargetResult | None) -> None:
        super().__init__(cause.what, cause.fix)
        self.cause = cause
        self.result = result


def _unavailable(exc: Exception) -> ServiceUnavailable:
    if isinstance(exc, ServiceUnavailable):
        return exc
    return ServiceUnavailable(
        f"the database failed ({type(exc).__name__})", "check the database (--db / DUNCALL_DATABASE_URL)"
    )


class DialGate(Protocol):
    """Decides, atomically and at dial time, whether this dial may happen; reserves it if so."""

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        """Reasons it may not be dialled now (empty: allowed and reserved)."""
        ...

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        """What happened on an allowed attempt, for the frequency rules."""
        ...

    async def withdraw(self, attempt_id: str) -> None:
        """An allowed attempt never reached the network: the decision stays, the caps forget it."""
        ...


class NodePicker(Protocol):
    """Several Asterisk nodes (``dialer.dial.nodes.NodePool``): a channel on one with room."""

    async def acquire(self, attempt_id: str) -> Placement:
        """Waits until a node that is up has a free channel, and takes it."""
        ...

    async def release(self, placement: Placement, attempt_id: str) -> None: ...


class Pacer(Protocol):
    """Spaces originates toward Asterisk (calls per second); waits until the next one may go."""

    async def wait(self) -> None: ...


OnAnswer = Callable[[DialTarget, AnsweredCall], Awaitable[ConversationRecord]]
AnswerCall = Callable[[AnsweredCall], Awaitable[ConversationRecord]]


@dataclass(frozen=True, slots=True)
class DialHooks:
    """A campaign mode's bookkeeping around the common pipeline."""

    # The guard denied the dial (nothing was dialled).
    denied: Callable[[str], None] | None = None
    # ``place_call`` returned, before anything is stored: may settle the outcome (e.g. abandoned).
    placed: Callable[[AttemptResult[ConversationRecord]], None] | None = None


NO_HOOKS = DialHooks()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def dial_one(
    ari: AriClient,
    engine: Engine,
    target: DialTarget,
    on_answer: AnswerCall,
    gate: DialGate,
    *,
    attempt_id: str | None = None,
    campaign_id: str | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    pacer: Pacer | None = None,
    ring_timeout_s: int = RING_TIMEOUT_S,
    hooks: DialHooks = NO_HOOKS,
    nodes: NodePicker | None = None,
    detect_machine: bool = True,
) -> TargetResult:
    """Dial ``target`` once if the guard allows it now; store the attempt and report its outcome.

    ``detect_machine``: answer detection judges the answer (False: a person is already on the
    line — a collector's own call — and hears whatever answers, a voicemail greeting included).

    ``nodes``: the call goes to an Asterisk node with a free channel (taken before the guard is
    asked, so the decision stays next to the originate), stored on its attempt; else to ``ari``.
    Raises only ``DialNotPlaced`` (nothing dialled: a service is away) and cancellation.
    """
    attempt_id = attempt_id or str(uuid.uuid4())
    if nodes is None:
        return await _dial(
            ari,
            engine,
            target,
            on_answer,
            gate,
            attempt_id,
            campaign_id,
            clock,
            pacer,
            ring_timeout_s,
            hooks,
            None,
            detect_machine,
        )
    try:
        placement = await nodes.acquire(attempt_id)
    except ServiceUnavailable as exc:
        metrics.guard_held()
        log.warning("dial held: no node channel could be taken", extra=kv(attempt_id=attempt_id))
        raise DialNotPlaced(exc, None) from None
    try:
        return await _dial(
            placement.ari,
            engine,
            target,
            on_answer,
            gate,
            attempt_id,
            campaign_id,
            clock,
            pacer,
            ring_timeout_s,
            hooks,
            placement.node,
            detect_machine,
        )
    finally:
        await nodes.release(placement, attempt_id)


async def _dial(
    ari: AriClient,
    engine: Engine,
    target: DialTarget,
    on_answer: AnswerCall,
    gate: DialGate,
    attempt_id: str,
    campaign_id: str | None,
    clock: Callable[[], dt.datetime],
    pacer: Pacer | None,
    ring_timeout_s: int,
    hooks: DialHooks,
    node: str | None,
    detect_machine: bool = True,
) -> TargetResult:
    try:
        if pacer is not None:
            # Paced before the guard: the decision stays as close to the originate as it can.
            await pacer.wait()
        # The guard is asked here, immediately before the originate, never earlier.
        reasons = await gate.reserve(target, attempt_id, clock())
    except (ServiceUnavailable, SQLAlchemyError) as exc:
        # No allowing decision was recorded, so nothing may be dialled: held, not lost.
        metrics.guard_held()
        log.warning(
            "dial held: a service is unavailable", extra=kv(attempt_id=attempt_id, error=type(exc).__name__)
        )
        raise DialNotPlaced(_unavailable(exc), None) from None
    except Exception as exc:
        log.exception("dial not decided", extra=kv(attempt_id=attempt_id))
        return TargetResult(target, attempt_id, False, error=type(exc).__name__)
    metrics.guard_decided(reasons)
    if reasons:
        log.info("dial denied", extra=kv(account_id=target.account_id, reasons=reasons))
        if hooks.denied is not None:
            hooks.denied(attempt_id)
        return TargetResult(target, attempt_id, False, reasons)
    try:
        await record.reserved(engine, target, attempt_id, campaign_id, clock(), node=node)
    except Exception as exc:
        # Allowed, counted, and never dialled: recovery writes its ``failed`` attempt row.
        not_placed: AttemptResult[ConversationRecord] = AttemptResult(
            attempt_id, debtor_channel(attempt_id), CallOutcome.FAILED, cause_txt="not placed"
        )
        result = TargetResult(target, attempt_id, True, [], not_placed, error=type(exc).__name__)
        metrics.dial_ended(CallOutcome.FAILED, placed=False)
        if isinstance(exc, ServiceUnavailable | SQLAlchemyError):
            log.warning(
                "dial not placed: its attempt row could not be written", extra=kv(attempt_id=attempt_id)
            )
            raise DialNotPlaced(_unavailable(exc), result) from None
        log.exception("dial not placed", extra=kv(attempt_id=attempt_id))
        return result
    answer_row = _AnswerRow(engine, attempt_id, on_answer, clock)
    attempt = await _place(
        ari, target, answer_row.answering, attempt_id, ring_timeout_s, detect_machine, on_up=answer_row.up
    )
    await answer_row.settle()
    if not attempt.placed:
        return await _not_placed(engine, gate, target, attempt, clock)
    if hooks.placed is not None:
        try:
            hooks.placed(attempt)
        except Exception:
            log.exception("campaign bookkeeping failed for an attempt", extra=kv(attempt_id=attempt_id))
    await _write_end(engine, target, attempt, clock)
    await _report(gate, attempt)
    metrics.dial_ended(attempt.outcome)
    if attempt.conversation is not None:
        metrics.conversation_ended(attempt.conversation)
    return TargetResult(target, attempt_id, True, [], attempt)


async def _not_placed(
    engine: Engine,
    gate: DialGate,
    target: DialTarget,
    attempt: AttemptResult[ConversationRecord],
    clock: Callable[[], dt.datetime],
) -> TargetResult:
    """Asterisk refused the originate: the row says so and the guard withdraws the reservation.

    The row first: if withdrawing fails, the ledger keeps counting the attempt (the strict side).
    """
    log.warning("dial not placed: Asterisk refused the originate", extra=kv(attempt_id=attempt.attempt_id))
    metrics.dial_ended(attempt.outcome, placed=False)
    try:
        await record.not_placed(engine, attempt, clock())
    except Exception as exc:
        # Left ``dialing``: the next start's recovery finds no channel and ends it as failed.
        log.error(
            "not-placed attempt not written",
            extra=kv(attempt_id=attempt.attempt_id, error=type(exc).__name__),
        )
        return TargetResult(target, attempt.attempt_id, True, [], attempt, error=type(exc).__name__)
    try:
        await gate.withdraw(attempt.attempt_id)
    except Exception as exc:
        log.error(
            "reservation of a not-placed attempt not withdrawn; it still counts",
            extra=kv(attempt_id=attempt.attempt_id, error=type(exc).__name__),
        )
    return TargetResult(target, attempt.attempt_id, True, [], attempt, not_placed=True)


class _AnswerRow:
    """The answer written to the attempt row while the call goes on, in two steps: at the answer
    itself (who answered not yet known: recovery takes it for a person, the strict side), then
    with answer detection's verdict.  A dialer that dies while detection still listens has
    already stored that someone answered."""

    def __init__(
        self, engine: Engine, attempt_id: str, on_answer: AnswerCall, clock: Callable[[], dt.datetime]
    ) -> None:
        self._engine, self._attempt_id, self._on_answer, self._clock = engine, attempt_id, on_answer, clock
        self._up: asyncio.Task[None] | None = None

    def up(self) -> None:
        self._up = asyncio.create_task(
            _store_answer(self._engine, self._attempt_id, self._clock(), None),
            name=f"answer-row-up:{self._attempt_id}",
        )

    async def answering(self, call: AnsweredCall) -> ConversationRecord:
        # The wall-clock time of the answer itself (answer detection may have taken seconds since).
        at = self._clock() - dt.timedelta(seconds=max(0.0, time.monotonic() - call.answered_at))
        # Beside the answerer, not before it: the person who answered hears the bot or the
        # collector without waiting for the database.
        stored = asyncio.create_task(self._verdict(at, call.kind), name=f"answer-row:{self._attempt_id}")
        try:
            return await self._on_answer(call)
        finally:
            # The end is written once this returns: the answer is in the row before it.
            await stored

    async def _verdict(self, at: dt.datetime, kind: AnswerKind) -> None:
        if self._up is not None:
            await self._up  # the verdict lands after the answer's own write, never under it
        await _store_answer(self._engine, self._attempt_id, at, kind)

    async def settle(self) -> None:
        """The answer's own write done (a call ended during detection still waits for it)."""
        if self._up is not None:
            await self._up


async def _store_answer(engine: Engine, attempt_id: str, at: dt.datetime, kind: AnswerKind | None) -> None:
    try:
        await record.answered(engine, attempt_id, at, kind)
    except Exception as exc:
        # The call goes on; its end still records it answered.  Only a crash before that end
        # would now be settled as never answered (the ledger's allowed decision still counts it).
        log.warning(
            "answer not stored on the attempt", extra=kv(attempt_id=attempt_id, error=type(exc).__name__)
        )


async def _place(
    ari: AriClient,
    target: DialTarget,
    on_answer: AnswerCall,
    attempt_id: str,
    ring_timeout_s: int,
    detect_machine: bool = True,
    *,
    on_up: Callable[[], None] | None = None,
) -> AttemptResult[ConversationRecord]:
    try:
        # The creditor's caller ID: the debtor sees the number of whom the call is about.
        return await place_call(
            ari,
            target.endpoint,
            on_answer,
            attempt_id=attempt_id,
            ring_timeout_s=ring_timeout_s,
            caller_id=target.caller_id,
            detect_machine=detect_machine,
            on_up=on_up,
        )
    except Exception as exc:
        # place_call ends its own failures; this is the last line: the call's fate is unknown.
        log.exception("call failed", extra=kv(attempt_id=attempt_id))
        channel = debtor_channel(attempt_id)
        try:
            await ari.hangup(channel)
        except Exception:
            log.warning("could not hang up a failed call", extra=kv(attempt_id=attempt_id))
        return AttemptResult(attempt_id, channel, CallOutcome.FAILED, cause_txt=type(exc).__name__)


async def _write_end(
    engine: Engine,
    target: DialTarget,
    attempt: AttemptResult[ConversationRecord],
    clock: Callable[[], dt.datetime],
) -> None:
    """The ended row, retried while the database is away; on giving up, recovery settles it."""
    give_up = time.monotonic() + END_WRITE_PATIENCE_S
    wait_s, longest_s = END_WRITE_RETRY_S
    while True:
        try:
            await record.ended(engine, target, attempt, clock())
            return
        except (ServiceUnavailable, SQLAlchemyError) as exc:
            if time.monotonic() + wait_s > give_up:
                log.error(
                    "attempt end not written; the next start settles it",
                    extra=kv(attempt_id=attempt.attempt_id, error=type(exc).__name__),
                )
                return
            log.warning("attempt end not written yet; retrying", extra=kv(attempt_id=attempt.attempt_id))
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, longest_s)
        except Exception:
            log.exception("attempt end not written", extra=kv(attempt_id=attempt.attempt_id))
            return


def right_party_of(attempt: AttemptResult[ConversationRecord]) -> bool:
    """Whether the guard counts the attempt as a right-party conversation.

    The conversation's own verdict; a person answered but nothing says who (the answerer
    failed, or the call ended before its record): counted, the side that never calls too soon.
    """
    if attempt.conversation is not None:
        return attempt.conversation.right_party
    return attempt.outcome is CallOutcome.ANSWERED


async def _report(gate: DialGate, attempt: AttemptResult[ConversationRecord]) -> None:
    try:
        await gate.outcome(attempt.attempt_id, attempt.outcome, right_party_of(attempt))
    except Exception as exc:
        # The guard writes Redis before its ledger: a partial failure stays on the strict side
        # until a rebuild; a total one is logged for `duncall guard rebuild`.
        log.error(
            "attempt outcome not recorded by the guard",
            extra=kv(attempt_id=attempt.attempt_id, error=type(exc).__name__),
        )
